package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medledger/internal/node"
)

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestReadmeWalkthrough runs the README's walkthrough with the CLI against
// a real node: organisations, members, a patient, a lab result, a grant, a
// read, a revocation, break-glass, the access log and erasure.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	t.Setenv("MEDLEDGER_PASSPHRASE", "walkthrough")
	home := filepath.Join(nodeDir(t), "home")
	api := freePort(t)
	if code, out, errs := runCLI(t, "init", "--home", home, "--p2p-port", itoa(freePort(t)), "--rpc-port", itoa(freePort(t)), "--api-listen", "127.0.0.1:"+itoa(api)); code != 0 {
		t.Fatalf("init: %s %s", out, errs)
	}
	runNode(t, home)

	cli := func(args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, append(args, "--home", home)...)
		if code != 0 {
			t.Fatalf("medledger %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	fails := func(want string, args ...string) {
		t.Helper()
		code, out, errs := runCLI(t, append(args, "--home", home)...)
		if code == 0 || !strings.Contains(errs, want) {
			t.Fatalf("medledger %s: exit %d, want an error with %q\n%s%s", strings.Join(args, " "), code, want, out, errs)
		}
	}
	for _, k := range []string{"stmarys-admin", "dr-lee", "pat", "labb-admin", "tech", "er-admin", "er-doc"} {
		cli("keys", "new", k)
	}
	cli("org", "admit", "--from", "authority", "--id", "st-marys", "--type", "hospital", "--name", "St Mary's", "--licence", "H-0042", "--gateway", "https://gw.stmarys.example", "--admin", "stmarys-admin")
	cli("member", "enrol", "--from", "stmarys-admin", "--keys", "dr-lee", "--roles", "physician,registrar")
	cli("patient", "register", "--from", "pat")
	cli("patient", "attest", "--from", "dr-lee", "--patient", "pat", "--method", "in_person")
	cli("query", "account", "pat", "--prove")

	cli("org", "admit", "--from", "authority", "--id", "lab-b", "--type", "lab", "--name", "Lab B", "--licence", "L-7", "--admin", "labb-admin")
	cli("member", "enrol", "--from", "labb-admin", "--keys", "tech", "--roles", "lab_technician")
	obs := filepath.Join(t.TempDir(), "hba1c.json")
	os.WriteFile(obs, []byte(`{"resourceType":"Observation","id":"a1c","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"text":"HbA1c"},"valueQuantity":{"value":6.1,"unit":"%"}}`), 0o600)
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"resourceType":"Observation","status":"finalx","code":{"text":"x"}}`), 0o600)
	fails("Observation.status", "record", "put", "--from", "tech", "--patient", "pat", "--file", bad)
	cli("record", "put", "--from", "tech", "--patient", "pat", "--file", obs)

	var list []struct {
		Record struct{ ID, Category string } `json:"record"`
	}
	if err := json.Unmarshal([]byte(cli("record", "list", "--from", "pat", "--patient", "pat", "--output", "json")), &list); err != nil || len(list) != 1 || list[0].Record.Category != "lab" {
		t.Fatalf("record list: %+v %v", list, err)
	}
	rec := list[0].Record.ID

	cli("grant", "add", "--from", "pat", "--to", "dr-lee", "--categories", "lab", "--purpose", "treatment", "--expires", "720h")
	if got := cli("record", "get", rec, "--from", "dr-lee", "--patient", "pat", "--purpose", "treatment"); !strings.Contains(got, `"value":6.1`) {
		t.Fatalf("doctor's read: %s", got)
	}
	var grants struct {
		Grants []struct{ ID string } `json:"grants"`
	}
	json.Unmarshal([]byte(cli("grant", "list", "--from", "pat", "--output", "json")), &grants)
	if len(grants.Grants) != 1 {
		t.Fatalf("grant list: %+v", grants)
	}
	cli("grant", "revoke", grants.Grants[0].ID, "--from", "pat")
	fails("record not found", "record", "get", rec, "--from", "dr-lee", "--patient", "pat", "--purpose", "treatment")

	cli("org", "admit", "--from", "authority", "--id", "hospital-e", "--type", "hospital", "--name", "E", "--licence", "H-9", "--admin", "er-admin")
	cli("member", "enrol", "--from", "er-admin", "--keys", "er-doc", "--roles", "physician")
	fails("physician or nurse", "emergency", "access", "--from", "tech", "--patient", "pat", "--reason", "unconscious")
	cli("emergency", "access", "--from", "er-doc", "--patient", "pat", "--reason", "unconscious")
	fails("no key wrap", "record", "get", rec, "--from", "er-doc", "--patient", "pat", "--purpose", "emergency")
	cli("record", "share", rec, "--from", "pat", "--with", "er-doc")
	if got := cli("record", "get", rec, "--from", "er-doc", "--patient", "pat", "--purpose", "emergency"); !strings.Contains(got, `"value":6.1`) {
		t.Fatalf("break-glass read: %s", got)
	}
	// The last read's access tx commits a block after the read was served.
	var log string
	for deadline := time.Now().Add(15 * time.Second); ; {
		log = cli("audit", "log", "--from", "pat", "--prove")
		if strings.Contains(log, "BREAK-GLASS") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(log, "st-marys") || !strings.Contains(log, "BREAK-GLASS") || !strings.Contains(log, "all 2 events verified") {
		t.Fatalf("audit log: %s", log)
	}
	if tl := cli("timeline", "--from", "pat"); !strings.Contains(tl, "HbA1c") || !strings.Contains(tl, "6.1") {
		t.Fatalf("timeline: %s", tl)
	}
	out := filepath.Join(t.TempDir(), "mine.json")
	cli("export", "fhir", "--from", "pat", "--patient", "pat", "--out", out)
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), `"resourceType":"Bundle"`) && !strings.Contains(string(b), `"resourceType": "Bundle"`) {
		t.Fatalf("export: %s", b)
	}
	cli("deidentify", out, "--out", filepath.Join(t.TempDir(), "research.json"))
	cli("record", "erase", rec, "--from", "pat")
	fails("erased", "record", "get", rec, "--from", "pat", "--patient", "pat", "--purpose", "personal")
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// nodeDir is t.TempDir for directories a node writes to. CometBFT's
// address book saves itself from a goroutine that outlives the node's
// Stop, so removal retries briefly instead of failing on a file written
// during cleanup.
func nodeDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "medledger-cli-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for i := 0; i < 50; i++ {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("removing %s: %v", dir, err)
	})
	return dir
}

// runNode runs the node in home until the test ends, as `medledger start`
// does, and returns it once it has committed a block.
func runNode(t *testing.T, home string) *node.Node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan *node.Node, 1)
	go func() {
		done <- node.Run(ctx, home, node.Options{Logger: discard()}, func(n *node.Node) { started <- n })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	var n *node.Node
	select {
	case n = <-started:
	case err := <-done:
		t.Fatalf("the node did not start: %v", err)
	}
	for n.Height() < 1 {
		time.Sleep(50 * time.Millisecond)
	}
	return n
}
