package api

import (
	"sync"
	"time"

	"medledger"
)

// Quota limits how many blob bytes each account may upload to this node
// per UTC day (DESIGN §7). It is node-local: each institution sets its own.
type Quota struct {
	mu    sync.Mutex
	limit int64
	day   string
	used  map[medledger.ID]int64
	now   func() time.Time
}

// NewQuota returns a quota of limit bytes per account per day; 0 means no
// limit.
func NewQuota(limit int64) *Quota {
	return &Quota{limit: limit, used: map[medledger.ID]int64{}, now: time.Now}
}

// reserve takes n bytes of id's quota, or fails with KindQuota.
func (q *Quota) reserve(id medledger.ID, n int64) error {
	if q == nil || q.limit == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if d := q.now().UTC().Format(time.DateOnly); d != q.day {
		q.day, q.used = d, map[medledger.ID]int64{}
	}
	if q.used[id]+n > q.limit {
		return medledger.Errorf(medledger.KindQuota, "account %s has used %d of its %d bytes of uploads today", id, q.used[id], q.limit)
	}
	q.used[id] += n
	return nil
}

// release gives back bytes reserved for an upload that failed.
func (q *Quota) release(id medledger.ID, n int64) {
	if q == nil || q.limit == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.used[id] -= n
}

// SetQuota sets the upload quota (New leaves none).
func (s *Server) SetQuota(q *Quota) { s.quota = q }
