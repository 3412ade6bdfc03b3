package node

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Config is medledger's own node configuration, in <home>/config/app.toml.
// CometBFT's settings stay in config.toml.
type Config struct {
	API    APIConfig    `toml:"api"`
	Log    LogConfig    `toml:"log"`
	Store  StoreConfig  `toml:"store"`
	Blobs  BlobsConfig  `toml:"blobs"`
	Escrow EscrowConfig `toml:"escrow"`
	// Replication configures pulling blobs and key wraps from peers.
	Replication ReplicationConfig `toml:"replication"`
	// StateSync configures the snapshots other nodes restore from.
	StateSync StateSyncConfig `toml:"statesync"`
}

// ReplicationConfig configures blob replication between nodes. The
// sources of a blob are the authoring organisation's gateway, then every
// active organisation's gateway and the static peers.
type ReplicationConfig struct {
	// Peers are API base URLs of other nodes to pull from besides the
	// organisations' gateways (a testnet's nodes, which are no
	// organisation's).
	Peers []string `toml:"peers"`
	// Workers is how many pulls run at once; 0 turns background pulls
	// off (a validator that serves no reads), leaving only the pulls a
	// waiting reader triggers.
	Workers int `toml:"workers"`
}

// StateSyncConfig configures the state-sync snapshots this node takes and
// serves to nodes that join the network (CometBFT's own [statesync] in
// config.toml is about restoring one).
type StateSyncConfig struct {
	// SnapshotInterval is the number of blocks between snapshots; 0 takes
	// none.
	SnapshotInterval int64 `toml:"snapshot_interval"`
	// SnapshotKeepRecent is how many snapshots to keep; 0 keeps all.
	SnapshotKeepRecent int `toml:"snapshot_keep_recent"`
}

// EscrowConfig makes the node its organisation's break-glass escrow.
type EscrowConfig struct {
	// Org is the organisation whose escrow key this node holds; empty
	// for none.
	Org string `toml:"org"`
	// KeyFile holds the escrow private key (hex), relative to home.
	KeyFile string `toml:"key_file"`
}

// EscrowKeyFile is where `medledger org escrow-key` writes the key.
const EscrowKeyFile = "config/escrow.key"

// BlobsConfig configures the ciphertext store in <home>/blobs.
type BlobsConfig struct {
	// MaxBlobSize is the largest blob accepted, in bytes.
	MaxBlobSize int64 `toml:"max_blob_size"`
	// GCGrace is how long an uploaded blob may wait for an anchor before
	// it is collected.
	GCGrace string `toml:"gc_grace"`
	// DailyQuota is how many bytes each account may upload per UTC day;
	// 0 for no limit.
	DailyQuota int64 `toml:"daily_quota"`
}

// APIConfig configures the REST API.
type APIConfig struct {
	// Listen is host:port; port 0 picks a free port.
	Listen string `toml:"listen"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
	// CometBFTInfo is the level at which CometBFT's routine info lines are
	// logged; "debug" keeps them out of an info-level log.
	CometBFTInfo string `toml:"cometbft_info"`
}

// StoreConfig configures the authenticated store.
type StoreConfig struct {
	// KeepVersions is how many recent versions to keep for proofs at old
	// heights; 0 keeps all.
	KeepVersions int64 `toml:"keep_versions"`
	// CacheSize is the IAVL node cache size.
	CacheSize int `toml:"cache_size"`
}

// DefaultAPIListen is where the API listens unless configured otherwise.
const DefaultAPIListen = "127.0.0.1:26680"

// DefaultConfig returns settings that work on one machine.
func DefaultConfig() Config {
	return Config{
		API:         APIConfig{Listen: DefaultAPIListen},
		Log:         LogConfig{Level: "info", Format: "text", CometBFTInfo: "debug"},
		Store:       StoreConfig{KeepVersions: 0, CacheSize: 200_000},
		Blobs:       BlobsConfig{MaxBlobSize: 64 << 20, GCGrace: "1h", DailyQuota: 10 << 30},
		Escrow:      EscrowConfig{KeyFile: EscrowKeyFile},
		Replication: ReplicationConfig{Peers: []string{}, Workers: 2},
		// About every 17 minutes at one block a second: a joining node
		// replays at most that many blocks after restoring.
		StateSync: StateSyncConfig{SnapshotInterval: 1000, SnapshotKeepRecent: 2},
	}
}

// AppConfigFile is the path of app.toml under home.
func AppConfigFile(home string) string { return filepath.Join(home, "config", "app.toml") }

// LoadConfig reads app.toml, filling unset fields with defaults. A missing
// file gives the defaults.
func LoadConfig(home string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(AppConfigFile(home))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	d := toml.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", AppConfigFile(home), err)
	}
	return c, c.Validate()
}

// Validate checks the settings.
func (c Config) Validate() error {
	if _, err := parseLevel(c.Log.Level); err != nil {
		return err
	}
	if _, err := parseLevel(c.Log.CometBFTInfo); err != nil {
		return err
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("app.toml: log.format must be text or json")
	}
	if c.Store.KeepVersions < 0 || c.Store.CacheSize < 0 {
		return fmt.Errorf("app.toml: store settings must not be negative")
	}
	if d, err := time.ParseDuration(c.Blobs.GCGrace); err != nil || d <= 0 {
		return fmt.Errorf("app.toml: blobs.gc_grace must be a positive duration such as 1h")
	}
	if c.Blobs.DailyQuota < 0 {
		return fmt.Errorf("app.toml: blobs.daily_quota must not be negative")
	}
	if c.Blobs.MaxBlobSize <= 0 {
		return fmt.Errorf("app.toml: blobs.max_blob_size must be positive")
	}
	if c.StateSync.SnapshotInterval < 0 || c.StateSync.SnapshotKeepRecent < 0 {
		return fmt.Errorf("app.toml: statesync settings must not be negative")
	}
	if c.API.Listen == "" {
		return fmt.Errorf("app.toml: api.listen is empty")
	}
	if c.Replication.Workers < 0 || c.Replication.Workers > 64 {
		return fmt.Errorf("app.toml: replication.workers must be between 0 (off) and 64")
	}
	for _, p := range c.Replication.Peers {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("app.toml: replication.peers: %q is not an http(s) URL", p)
		}
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("app.toml: unknown log level %q (debug, info, warn, error)", s)
	}
	return l, nil
}

var appToml = template.Must(template.New("app").Parse(`# medledger node settings. CometBFT's own settings are in config.toml.

[api]
# Address of the REST API (host:port). Port 0 picks a free port.
listen = "{{.API.Listen}}"

[log]
# debug, info, warn or error
level = "{{.Log.Level}}"
# text or json
format = "{{.Log.Format}}"
# Level for CometBFT's routine info lines; "debug" keeps them out of an
# info-level log.
cometbft_info = "{{.Log.CometBFTInfo}}"

[store]
# Recent versions kept for proofs at old heights; 0 keeps all.
keep_versions = {{.Store.KeepVersions}}
# IAVL node cache size.
cache_size = {{.Store.CacheSize}}

[blobs]
# Largest record ciphertext accepted, in bytes (64 MiB by default).
max_blob_size = {{.Blobs.MaxBlobSize}}
# How long an uploaded blob may wait for its anchor before it is collected.
gc_grace = "{{.Blobs.GCGrace}}"
# Bytes each account may upload per UTC day (10 GiB by default); 0 for no limit.
daily_quota = {{.Blobs.DailyQuota}}

[escrow]
# The organisation whose break-glass escrow key this node holds ("" for
# none); set by ` + "`medledger org escrow-key`" + `.
org = "{{.Escrow.Org}}"
key_file = "{{.Escrow.KeyFile}}"

[replication]
# API base URLs of other nodes to pull record ciphertext and key wraps
# from, besides the admitted organisations' gateways.
peers = [{{range $i, $p := .Replication.Peers}}{{if $i}}, {{end}}{{printf "%q" $p}}{{end}}]
# Pulls running at once; 0 turns background pulls off (a validator that
# serves no reads): only a reader waiting for a missing blob pulls it.
workers = {{.Replication.Workers}}

[statesync]
# Take a snapshot of the state every this many blocks, for nodes that join
# by state sync; 0 takes none. Snapshots are in data/snapshots.
snapshot_interval = {{.StateSync.SnapshotInterval}}
# How many recent snapshots to keep; 0 keeps all.
snapshot_keep_recent = {{.StateSync.SnapshotKeepRecent}}
`))

// WriteConfig writes app.toml.
func WriteConfig(home string, c Config) error {
	var b bytes.Buffer
	if err := appToml.Execute(&b, c); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(AppConfigFile(home)), 0o700); err != nil {
		return err
	}
	return os.WriteFile(AppConfigFile(home), b.Bytes(), 0o600)
}

// NewLogger returns the logger the config asks for, writing to w.
func NewLogger(c LogConfig, w *os.File) *slog.Logger {
	lvl, _ := parseLevel(c.Level)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
