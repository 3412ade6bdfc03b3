package cli

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"

	"medledger/client"
	"medledger/internal/cometbft"
	"medledger/internal/node"
)

func validatorCommands() []command {
	var (
		from, org, pubKey string
		power             int64
	)
	return []command{
		{path: "validator set", summary: "The consortium authority adds a validator, changes its voting power, or removes it with --power 0 (each regulator submits the same command until the threshold is met)",
			example: "medledger validator set --from authority --org st-marys --power 10     # the org's registered validator key\n" +
				"medledger validator set --from authority --pub-key BASE64 --power 0    # remove a genesis validator",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.StringVar(&from, "from", "authority", "keyring `key` that signs the tx")
				fs.StringVar(&org, "org", "", "the validator's organisation `ID`; its registered validator key is used unless --pub-key is given")
				fs.StringVar(&pubKey, "pub-key", "", "validator Ed25519 public key, `base64` (as in priv_validator_key.json; `medledger validator key` prints it)")
				fs.Int64Var(&power, "power", -1, "voting `power`; 0 removes the validator")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if power < 0 {
					return usagef("--power is required (0 removes the validator)")
				}
				m := &client.SetValidator{Power: power, Org: org}
				switch {
				case pubKey != "":
					raw, err := base64.StdEncoding.DecodeString(pubKey)
					if err != nil {
						return usagef("--pub-key must be base64")
					}
					m.PubKey = raw
				case org != "":
					o, err := e.client().Org(ctx, org)
					if err != nil {
						return err
					}
					if len(o.ValidatorKey) == 0 {
						return usagef("organisation %s registered no validator key: give --pub-key", org)
					}
					m.PubKey = o.ValidatorKey
				default:
					return usagef("give --org or --pub-key")
				}
				if err := m.Validate(); err != nil {
					return usagef("%v", err)
				}
				return e.send(ctx, from, m)
			}},
		{path: "validator key", summary: "Print this node's validator public key and P2P node ID, for the authority to admit it",
			example: "medledger validator key --home ~/.medledger",
			run: func(ctx context.Context, e *env, args []string) error {
				if !node.Initialised(e.home) {
					return fmt.Errorf("%s is not initialised", e.home)
				}
				c, err := cometbft.LoadConfig(e.home)
				if err != nil {
					return err
				}
				id, pub, err := cometbft.GenKeys(c)
				if err != nil {
					return err
				}
				v := map[string]string{"pub_key": base64.StdEncoding.EncodeToString(pub), "node_id": id}
				return e.print(v, func(tw io.Writer) {
					fmt.Fprintf(tw, "validator key\t%s\nnode id\t%s\n", v["pub_key"], v["node_id"])
				})
			}},
		{path: "query validators", summary: "The validator set as the ledger committed it, with each validator's organisation",
			example: "medledger query validators --output json",
			run: func(ctx context.Context, e *env, args []string) error {
				vs, err := e.client().Validators(ctx)
				if err != nil {
					return err
				}
				return e.print(vs, func(tw io.Writer) {
					fmt.Fprintln(tw, "PUB KEY\tPOWER\tORG\tSINCE")
					for _, v := range vs {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", base64.StdEncoding.EncodeToString(v.PubKey), v.Power, v.Org, v.Updated)
					}
				})
			}},
	}
}
