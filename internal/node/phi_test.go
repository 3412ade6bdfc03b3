package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble"
	dbm "github.com/cometbft/cometbft-db"

	"medledger"
	"medledger/client"
	"medledger/internal/consent"
	"medledger/internal/fhir"
	"medledger/internal/node"
)

// sharedData returns ../shared/data, skipping when it is absent (a user's
// clone) and failing under CI=true, so CI never skips silently.
func sharedData(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data"))
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared test data missing at %s (CI=true)", dir)
		}
		t.Skipf("shared test data not found at %s; these tests need the synthetic Synthea bundles", dir)
	}
	return dir
}

// TestNoPHIAnywhere imports every Synthea bundle as a patient's records
// through a real node, then scans the CometBFT stores, the app state, the
// blob directory, the outbox and the node's log for every name, SSN, phone,
// address and MRN in those bundles. It also round-trips one bundle: the
// export equals the import resource by resource.
func TestNoPHIAnywhere(t *testing.T) {
	data := sharedData(t)
	files, _ := filepath.Glob(filepath.Join(data, "synthea", "*.json"))
	if len(files) < 10 {
		t.Fatalf("only %d Synthea files", len(files))
	}
	ctx := context.Background()
	reg, admin, author := newSigner(t), newSigner(t), newSigner(t)
	home := initHome(t, reg)
	logBuf := &lockedWriter{}
	logger := slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := node.New(home, node.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	waitHeight(t, n, 1)
	c := client.New(n.APIURL())
	send(t, c, reg, &client.AdmitOrg{Org: "synthea-general", OrgType: medledger.OrgHospital, Name: "General", Licence: "G", Admin: admin.pub})
	send(t, c, admin, &client.EnrolMember{Keys: author.pub, Roles: []medledger.Role{medledger.RolePhysician}})

	var phi []string
	imported := 0
	var roundTrip struct {
		patient signer
		split   *fhir.Split
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := fhir.SplitBundle(b)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		strs, err := fhir.PHIStrings(b)
		if err != nil {
			t.Fatal(err)
		}
		phi = append(phi, strs...)
		if len(s.Records) == 0 {
			continue // directory bundles: organisations and practitioners
		}
		p := newSigner(t)
		send(t, c, p, &client.RegisterPatient{Keys: p.pub})
		items := make([]client.Item, len(s.Records))
		for i, r := range s.Records {
			items[i] = client.Item{Content: r.JSON, ContentType: r.ResourceType, Category: r.Category}
		}
		if _, err := c.PutRecords(ctx, author.user(), p.ID, items, nil); err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		imported += len(items)
		if roundTrip.split == nil {
			roundTrip.patient, roundTrip.split = p, s
		}
	}
	if len(phi) < 50 {
		t.Fatalf("only %d PHI strings to look for", len(phi))
	}
	t.Logf("imported %d records of %d bundles; looking for %d PHI strings", imported, len(files), len(phi))

	// Round trip: the patient exports and gets back every resource.
	p := roundTrip.patient
	views, err := c.Records(ctx, p.Signer, p.ID, consent.PurposePersonal)
	if err != nil {
		t.Fatal(err)
	}
	var exported [][]byte
	for _, v := range views {
		pt, err := c.Read(ctx, p.user(), p.ID, v.Record.ID, 0, consent.PurposePersonal)
		if err != nil {
			t.Fatal(err)
		}
		exported = append(exported, pt.Content)
	}
	bundle, err := fhir.ExportBundle(exported)
	if err != nil {
		t.Fatal(err)
	}
	back, err := fhir.SplitBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := canonicalByID(t, back.Records), canonicalByID(t, roundTrip.split.Records); len(got) != len(want) {
		t.Fatalf("round trip: %d resources back, %d in", len(got), len(want))
	} else {
		for id, w := range want {
			if !jsonEqual(t, got[id], w) {
				t.Fatalf("round trip: resource %s differs", id)
			}
		}
	}
	waitCommitted(t, &world{n: n})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	// Scan everything the node wrote.
	var hits []string
	scan := func(where string, b []byte) {
		for _, s := range phi {
			if bytes.Contains(b, []byte(s)) {
				hits = append(hits, where+": "+s)
			}
		}
	}
	scan("node log", logBuf.Bytes()) // a copy: CometBFT may still log after Stop
	for _, db := range []string{"blockstore", "state", "tx_index", "evidence"} {
		if _, err := os.Stat(filepath.Join(home, "data", db+".db")); err != nil {
			continue
		}
		d, err := dbm.NewGoLevelDB(db, filepath.Join(home, "data"))
		if err != nil {
			t.Fatal(err)
		}
		it, err := d.Iterator(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for ; it.Valid(); it.Next() {
			scan("cometbft "+db, it.Key())
			scan("cometbft "+db, it.Value())
		}
		it.Close()
		d.Close()
	}
	pdb, err := pebble.Open(filepath.Join(home, "data", "app"), &pebble.Options{ReadOnly: true, Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	pit, _ := pdb.NewIter(nil)
	rows := 0
	for pit.First(); pit.Valid(); pit.Next() {
		rows++
		scan("app state", pit.Key())
		scan("app state", pit.Value())
	}
	pit.Close()
	pdb.Close()
	files2 := 0
	for _, dir := range []string{"blobs", filepath.Join("data", "outbox"), filepath.Join("data", "cs.wal")} {
		filepath.Walk(filepath.Join(home, dir), func(path string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				b, _ := os.ReadFile(path)
				scan(dir, b)
				files2++
			}
			return nil
		})
	}
	if rows < imported || files2 < imported {
		t.Fatalf("scanned only %d state rows and %d files for %d records", rows, files2, imported)
	}
	if len(hits) > 0 {
		sort.Strings(hits)
		t.Fatalf("PHI found (%d hits), e.g. %q", len(hits), hits[0])
	}
	// The scan itself can find PHI: plant one and look.
	scan("control", []byte("xx"+phi[0]+"xx"))
	if len(hits) != 1 {
		t.Fatal("the scan does not find planted PHI")
	}
}

func canonicalByID(t *testing.T, recs []fhir.Record) map[string][]byte {
	out := map[string][]byte{}
	for _, r := range recs {
		out[r.ResourceType+"/"+r.ID] = r.JSON
	}
	return out
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// lockedWriter is a log sink safe for concurrent writes and reads.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Bytes returns a copy of what was written so far.
func (l *lockedWriter) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)         {}
func (quietPebble) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
