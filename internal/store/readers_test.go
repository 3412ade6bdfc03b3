package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestReaderAt(t *testing.T) {
	// No Close on cleanup: after a deadlock it would hang instead of failing.
	mem, err := OpenMem()
	must(t, err)
	peb, err := Open(t.TempDir(), fastOptions())
	must(t, err)
	for name, s := range map[string]*Store{"mem": mem, "pebble": peb} {
		t.Run(name, func(t *testing.T) {
			for i := range 100 {
				must(t, s.Set(fmt.Appendf(nil, "k%03d", i), []byte("1")))
			}
			must(t, s.Index().Set([]byte("i"), []byte("1")))
			_, _, err := s.Commit()
			must(t, err)
			want := collect(t, s, nil, nil, 0)
			r, err := s.ReaderAt(1)
			must(t, err)

			// The ledger moves on; the reader stays at version 1.
			for i := range 100 {
				if i%2 == 0 {
					must(t, s.Delete(fmt.Appendf(nil, "k%03d", i)))
				} else {
					must(t, s.Set(fmt.Appendf(nil, "k%03d", i), []byte("2")))
				}
			}
			must(t, s.Set([]byte("new"), []byte("2")))
			_, _, err = s.Commit()
			must(t, err)
			must(t, s.Index().Set([]byte("i"), []byte("buffered")))

			// The callback reads through the reader and writes as the ledger
			// would; neither may block on the reader's own lock.
			done := make(chan []kv)
			go func() {
				var got []kv
				err := r.Iterate(nil, nil, func(k, v []byte) bool {
					if g, err := r.Get(k); err != nil || string(g) != string(v) {
						t.Errorf("Get(%s) = %q, %v inside Iterate, which gave %q", k, g, err, v)
					}
					if err := s.Set([]byte("written-during-iterate"), []byte("x")); err != nil {
						t.Error(err)
					}
					got = append(got, kv{string(k), string(v)})
					return true
				})
				if err != nil {
					t.Error(err)
				}
				done <- got
			}()
			select {
			case got := <-done:
				if !slices.Equal(got, want) {
					t.Fatalf("ReaderAt(1) iterated %v, want %v", got, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Iterate deadlocked")
			}

			if v, _ := s.IndexReader().Get([]byte("i")); string(v) != "1" {
				t.Fatalf("IndexReader sees %q, want the flushed value", v)
			}
			for _, v := range []int64{0, 3} {
				if _, err := s.ReaderAt(v); !errors.Is(err, ErrVersionUnavailable) {
					t.Fatalf("ReaderAt(%d): %v", v, err)
				}
			}
			must(t, s.Close())
		})
	}
}
