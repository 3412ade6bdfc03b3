package cli

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"medledger"
	"medledger/client"
)

func queryCommands() []command {
	var prove bool
	var page int
	proveFlag := func(e *env, fs *flag.FlagSet) {
		fs.BoolVar(&prove, "prove", false, "verify the answer with a Merkle proof against the next block's app hash")
	}
	return []command{
		{path: "query account", usage: "ID|NAME", summary: "Show an account: patient, member or regulator",
			example: "medledger query account 3xk2...q7 --prove",
			setup:   proveFlag,
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one account ID or keyring name")
				}
				id, err := e.resolveID(args[0])
				if err != nil {
					return err
				}
				c := e.client()
				var a *client.Account
				var sp *medledger.StateProof
				if prove {
					a, sp, err = c.ProvenAccount(ctx, id)
					if medledger.IsKind(err, medledger.KindNotFound) && sp != nil {
						return fmt.Errorf("account %s does not exist (absence verified against the app hash of block %d)", id, sp.Height+1)
					}
				} else {
					a, err = c.Account(ctx, id)
				}
				if err != nil {
					return err
				}
				return e.print(map[string]any{"account": a, "proof": sp}, func(tw io.Writer) {
					fmt.Fprintf(tw, "account\t%s\ndid\t%s\nkind\t%s\nstatus\t%s\n", a.ID, a.ID.DID(), a.Kind, a.Status)
					if a.Org != "" {
						fmt.Fprintf(tw, "org\t%s\nroles\t%s\n", a.Org, joinRoles(a.Roles))
					}
					fmt.Fprintf(tw, "keys held\t%d\ncreated\theight %d\n", len(a.Keys), a.Created)
					for _, at := range a.Attestations {
						fmt.Fprintf(tw, "attested\tby %s (%s) at height %d, %s\n", at.Org, at.By, at.Height, at.Method)
					}
					for _, d := range a.Delegates {
						exp := "no expiry"
						if d.Expires != 0 {
							exp = "until " + time.Unix(d.Expires, 0).UTC().Format(time.RFC3339)
						}
						fmt.Fprintf(tw, "delegate\t%s (%s, %s)\n", d.ID, d.Relation, exp)
					}
					printProof(tw, sp)
				})
			}},
		{path: "query org", usage: "ID", summary: "Show an organisation",
			example: "medledger query org st-marys --prove",
			setup:   proveFlag,
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one organisation ID")
				}
				c := e.client()
				var o *client.Org
				var sp *medledger.StateProof
				var err error
				if prove {
					o, sp, err = c.ProvenOrg(ctx, args[0])
				} else {
					o, err = c.Org(ctx, args[0])
				}
				if err != nil {
					return err
				}
				return e.print(map[string]any{"org": o, "proof": sp}, func(tw io.Writer) {
					fmt.Fprintf(tw, "org\t%s\ndid\t%s\ntype\t%s\nname\t%s\nlicence\t%s\nstatus\t%s\ngateway\t%s\nfirst admin\t%s\nadmitted\theight %d\n",
						o.ID, medledger.OrgDID(o.ID), o.Type, o.Name, o.Licence, o.Status, o.GatewayURL, o.Admin, o.Admitted)
					printProof(tw, sp)
				})
			}},
		{path: "query orgs", summary: "List the admitted organisations",
			example: "medledger query orgs --output json",
			run: func(ctx context.Context, e *env, args []string) error {
				orgs, err := e.client().Orgs(ctx)
				if err != nil {
					return err
				}
				return e.print(orgs, func(tw io.Writer) {
					fmt.Fprintln(tw, "ORG\tTYPE\tSTATUS\tNAME")
					for _, o := range orgs {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.ID, o.Type, o.Status, o.Name)
					}
				})
			}},
		{path: "query members", usage: "ORG", summary: "List an organisation's members",
			example: "medledger query members st-marys",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one organisation ID")
				}
				ids, err := e.client().Members(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(ids, func(tw io.Writer) {
					for _, id := range ids {
						fmt.Fprintln(tw, id)
					}
				})
			}},
		{path: "query proposals", summary: "List authority actions awaiting regulator approvals",
			example: "medledger query proposals",
			run: func(ctx context.Context, e *env, args []string) error {
				ps, err := e.client().Proposals(ctx)
				if err != nil {
					return err
				}
				return e.print(ps, func(tw io.Writer) {
					fmt.Fprintln(tw, "PROPOSAL\tACTION\tAPPROVALS")
					for _, p := range ps {
						fmt.Fprintf(tw, "%s\t%s\t%d\n", p.ID, p.MsgType, len(p.Approvals))
					}
				})
			}},
		{path: "query did", usage: "DID|ID", summary: "Resolve a W3C DID document",
			example: "medledger query did did:medledger:org:st-marys",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one DID")
				}
				did := args[0]
				if !strings.HasPrefix(trimDID(did), "org:") {
					id, err := e.resolveID(did)
					if err != nil {
						return err
					}
					did = string(id)
				}
				doc, err := e.client().DID(ctx, did)
				if err != nil {
					return err
				}
				return e.print(doc, nil)
			}},
		{path: "query tx", usage: "HASH", summary: "Show a tx's status, result and events",
			example: "medledger query tx 9F3C...E1",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one tx hash")
				}
				h, err := hex.DecodeString(args[0])
				if err != nil {
					return usagef("the hash must be hex")
				}
				st, err := e.client().Tx(ctx, h)
				if err != nil {
					return err
				}
				return e.printTx(st)
			}},
		{path: "query events", usage: "QUERY", summary: "Search committed txs by event (CometBFT query syntax)",
			example: "medledger query events \"identity.member_enrolled.org='st-marys'\"",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.IntVar(&page, "page", 1, "result page")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one query, quoted")
				}
				p, err := e.client().Events(ctx, args[0], page)
				if err != nil {
					return err
				}
				return e.print(p, func(tw io.Writer) {
					fmt.Fprintf(tw, "%d matching txs (page %d)\n", p.Total, p.Page)
					fmt.Fprintln(tw, "HEIGHT\tTX\tEVENTS")
					for _, t := range p.Txs {
						var types []string
						for _, ev := range t.Events {
							if ev.Type != "message" {
								types = append(types, ev.Type)
							}
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\n", t.Height, t.Hash, strings.Join(types, ","))
					}
				})
			}},
		{path: "query status", summary: "Show the node's and chain's status",
			example: "medledger query status --node http://127.0.0.1:26680",
			run: func(ctx context.Context, e *env, args []string) error {
				st, err := e.client().Status(ctx)
				if err != nil {
					return err
				}
				return e.print(st, func(tw io.Writer) {
					fmt.Fprintf(tw, "chain\t%s\nnode\t%s (%s)\nversion\t%s (app %d)\nheight\t%d\napp hash\t%s\nblock time\t%s\ncatching up\t%v\npeers\t%d\nvalidators\t%d\n",
						st.ChainID, st.Moniker, st.NodeID, st.Version, st.AppVersion, st.LatestHeight, st.LatestAppHash, st.LatestBlockTime.Format(time.RFC3339), st.CatchingUp, st.Peers, len(st.Validators))
				})
			}},
		{path: "query header", usage: "[HEIGHT]", summary: "Show a block header (latest by default)",
			example: "medledger query header 42",
			run: func(ctx context.Context, e *env, args []string) error {
				var h int64
				if len(args) == 1 {
					v, err := strconv.ParseInt(args[0], 10, 64)
					if err != nil || v < 1 {
						return usagef("the height must be a positive integer")
					}
					h = v
				}
				hdr, err := e.client().Header(ctx, h)
				if err != nil {
					return err
				}
				return e.print(hdr, func(tw io.Writer) {
					fmt.Fprintf(tw, "chain\t%s\nheight\t%d\ntime\t%s\napp hash\t%s\nblock hash\t%s\ntxs\t%d\n", hdr.ChainID, hdr.Height, hdr.Time.Format(time.RFC3339Nano), hdr.AppHash, hdr.BlockHash, hdr.NumTxs)
				})
			}},
	}
}

func printProof(tw io.Writer, sp *medledger.StateProof) {
	if sp != nil {
		fmt.Fprintf(tw, "proof\tverified: value at height %d matches the app hash in header %d\n", sp.Height, sp.Height+1)
	}
}
