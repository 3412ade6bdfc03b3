package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// Every command has --help with an example, and says what it does.
func TestEveryCommandHasHelpWithExample(t *testing.T) {
	for _, c := range commands() {
		args := append(strings.Fields(c.path), "--help")
		code, out, _ := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "Example:\n  ") || !strings.Contains(out, c.summary) || !strings.Contains(out, "-output") {
			t.Errorf("medledger %s --help: exit %d\n%s", c.path, code, out)
		}
	}
	code, out, _ := runCLI(t, "help")
	if code != 0 || !strings.Contains(out, "org admit") || !strings.Contains(out, "query account") {
		t.Fatalf("medledger help: %d %s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"org"}, {"keys", "show"}, {"version", "--output", "yaml"}, {"testnet", "--validators", "2"}} {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with a message", args, code, stderr)
		}
	}
}

func TestInitKeysAndTestnet(t *testing.T) {
	t.Setenv("MEDLEDGER_PASSPHRASE", "correct horse")
	home := filepath.Join(t.TempDir(), "home")
	code, out, stderr := runCLI(t, "init", "--home", home, "--chain-id", "cli-test", "--regulators", "reg1,reg2", "--threshold", "2")
	if code != 0 {
		t.Fatalf("init: %d %s %s", code, out, stderr)
	}
	for _, f := range []string{"config/config.toml", "config/genesis.json", "config/app.toml", "config/node_key.json", "config/priv_validator_key.json", "keyring/reg1.key", "keyring/reg2.key"} {
		if _, err := os.Stat(filepath.Join(home, f)); err != nil {
			t.Errorf("init did not write %s", f)
		}
	}
	gen, _ := os.ReadFile(filepath.Join(home, "config/genesis.json"))
	if !bytes.Contains(gen, []byte(`"chain_id": "cli-test"`)) || !bytes.Contains(gen, []byte(`"threshold": 2`)) {
		t.Fatalf("genesis: %s", gen)
	}
	if code, _, _ := runCLI(t, "init", "--home", home); code == 0 {
		t.Fatal("a second init succeeded")
	}
	if code, _, _ := runCLI(t, "--home", home, "init", "--if-needed"); code != 0 {
		t.Fatal("init --if-needed on an initialised home failed")
	}
	// Global flags before the command, flags after positional arguments.
	code, out, _ = runCLI(t, "--home", home, "keys", "show", "reg1", "--output", "json")
	var k publicKeyFile
	if code != 0 || json.Unmarshal([]byte(out), &k) != nil || k.ID.Validate() != nil || len(k.EncryptionPublicKey) != 1216 {
		t.Fatalf("keys show: %d %s", code, out)
	}
	code, out, _ = runCLI(t, "keys", "list", "--home", home)
	if code != 0 || !strings.Contains(out, "reg1") || !strings.Contains(out, "reg2") {
		t.Fatalf("keys list: %s", out)
	}
	// A wrong passphrase is refused.
	t.Setenv("MEDLEDGER_PASSPHRASE", "wrong")
	if code, _, stderr := runCLI(t, "keys", "export", "reg1", "--home", home); code != exitError || !strings.Contains(stderr, "passphrase") {
		t.Fatalf("export with a wrong passphrase: %d %s", code, stderr)
	}

	t.Setenv("MEDLEDGER_PASSPHRASE", "")
	out2 := filepath.Join(t.TempDir(), "net")
	code, out, stderr = runCLI(t, "testnet", "--validators", "3", "--out", out2, "--base-port", "36600", "--output", "json")
	if code != 0 {
		t.Fatalf("testnet: %s %s", out, stderr)
	}
	var genesis [3][]byte
	for i := range 3 {
		dir := filepath.Join(out2, "node"+string(rune('0'+i)))
		genesis[i], _ = os.ReadFile(filepath.Join(dir, "config/genesis.json"))
		cfg, _ := os.ReadFile(filepath.Join(dir, "config/config.toml"))
		app, _ := os.ReadFile(filepath.Join(dir, "config/app.toml"))
		if !bytes.Contains(cfg, []byte("tcp://127.0.0.1:"+itoa(36600+10*i))) || !bytes.Contains(app, []byte("127.0.0.1:"+itoa(36602+10*i))) {
			t.Errorf("node%d ports wrong", i)
		}
		if _, err := os.Stat(filepath.Join(dir, "keyring/authority.key")); err != nil {
			t.Errorf("node%d has no authority key", i)
		}
	}
	if !bytes.Equal(genesis[0], genesis[1]) || !bytes.Equal(genesis[0], genesis[2]) || bytes.Count(genesis[0], []byte(`"power": "10"`)) != 3 {
		t.Fatalf("the nodes do not share a genesis with 3 validators")
	}
	if code, _, _ := runCLI(t, "testnet", "--validators", "3", "--out", out2); code == 0 {
		t.Fatal("testnet overwrote a non-empty directory")
	}
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
