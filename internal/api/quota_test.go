package api

import (
	"testing"
	"time"

	"medledger"
)

func TestQuota(t *testing.T) {
	now := time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC)
	q := NewQuota(100)
	q.now = func() time.Time { return now }
	a, b := medledger.ID("aaaaaaaaaaaaaaaaaaaaaaaaaa"), medledger.ID("bbbbbbbbbbbbbbbbbbbbbbbbbb")
	if err := q.reserve(a, 60); err != nil {
		t.Fatal(err)
	}
	if err := q.reserve(a, 41); medledger.KindOf(err) != medledger.KindQuota {
		t.Fatalf("over the quota: %v", err)
	}
	if err := q.reserve(b, 100); err != nil {
		t.Fatalf("another account's quota: %v", err)
	}
	q.release(a, 60) // the upload failed
	if err := q.reserve(a, 100); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	now = now.Add(2 * time.Hour) // the next UTC day
	if err := q.reserve(a, 100); err != nil {
		t.Fatalf("the next day: %v", err)
	}
	if err := (*Quota)(nil).reserve(a, 1<<40); err != nil || NewQuota(0).reserve(a, 1<<40) != nil {
		t.Fatal("no quota should allow everything")
	}
}
