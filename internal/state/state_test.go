package state

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

type kv struct{ k, v string }

func dumpRange(t *testing.T, r Reader, start, end []byte, limit int) []kv {
	var out []kv
	if err := r.Iterate(start, end, func(k, v []byte) bool {
		out = append(out, kv{string(k), string(v)})
		return len(out) < limit
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCacheMatchesDirectWrites: a cache over a parent reads and iterates
// exactly like a store the same writes went to directly, Write applies
// them, and Discard drops them.
func TestCacheMatchesDirectWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	key := func() []byte { return []byte(fmt.Sprintf("k%02d", rng.IntN(40))) }
	for round := 0; round < 200; round++ {
		parent, direct := NewMem(), NewMem()
		for i := 0; i < 20; i++ {
			k, v := key(), []byte(fmt.Sprint("p", i))
			parent.Set(k, v)
			direct.Set(k, v)
		}
		c := NewCache(parent)
		for i := 0; i < 30; i++ {
			k := key()
			if rng.IntN(3) == 0 {
				c.Delete(k)
				direct.Delete(k)
			} else {
				v := []byte(fmt.Sprint("c", round, i))
				c.Set(k, v)
				direct.Set(k, v)
			}
		}
		for i := 0; i < 10; i++ {
			a, b := key(), key()
			if string(a) > string(b) {
				a, b = b, a
			}
			var start, end []byte = a, b
			if rng.IntN(4) == 0 {
				start = nil
			}
			if rng.IntN(4) == 0 {
				end = nil
			}
			limit := 1 + rng.IntN(45)
			if got, want := dumpRange(t, c, start, end, limit), dumpRange(t, direct, start, end, limit); !slices.Equal(got, want) {
				t.Fatalf("round %d, [%s, %s) limit %d:\ncache  %v\ndirect %v", round, start, end, limit, got, want)
			}
			k := key()
			g1, _ := c.Get(k)
			g2, _ := direct.Get(k)
			if string(g1) != string(g2) {
				t.Fatalf("Get(%s) = %q, want %q", k, g1, g2)
			}
		}
		if round%2 == 0 {
			if err := c.Write(parent); err != nil {
				t.Fatal(err)
			}
			if got, want := dumpRange(t, parent, nil, nil, 1000), dumpRange(t, direct, nil, nil, 1000); !slices.Equal(got, want) {
				t.Fatalf("after Write: %v, want %v", got, want)
			}
		} else {
			before := dumpRange(t, parent, nil, nil, 1000)
			c.Discard()
			if c.Len() != 0 || !slices.Equal(dumpRange(t, c, nil, nil, 1000), before) {
				t.Fatal("Discard left writes visible")
			}
		}
	}
	if err := NewCache(NewMem()).Set([]byte("k"), nil); err != ErrEmptyValue {
		t.Fatalf("empty value: %v", err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want string }{{"ab", "ac"}, {"a\xff", "b"}, {"\xff\xff", ""}} {
		if got := string(PrefixEnd([]byte(c.in))); got != c.want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
