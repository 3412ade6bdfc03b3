package cli

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"medledger/client"
	"medledger/internal/epcis"
)

// EPCIS 2.0 documents in and out of the supply chain.
func epcisCommands() []command {
	var (
		from, out, shipment string
		parties             listFlag
		dryRun              bool
	)
	return []command{
		{path: "supply epcis export", usage: "[EPC|LINK]", summary: "Write an EPCIS 2.0 JSON-LD document: a pack's custody trail, or a shipment's events (no account needed)",
			example: "medledger supply epcis export urn:epc:id:sgtin:9506000.013435.A0002 --out trail.jsonld\nmedledger supply epcis export --shipment SH-1",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.StringVar(&shipment, "shipment", "", "export this `shipment`'s events instead of a pack's trail")
				fs.StringVar(&out, "out", "", "write the document to `file` (default: standard output)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				q := url.Values{}
				switch {
				case shipment != "" && len(args) == 0:
					q.Set("shipment", shipment)
				case shipment == "" && len(args) == 1:
					if strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://") {
						q.Set("link", args[0])
					} else {
						q.Set("epc", args[0])
					}
				default:
					return usagef("name one pack (an EPC URN or a Digital Link) or give --shipment")
				}
				doc, err := e.client().EPCIS(ctx, q)
				if err != nil {
					return err
				}
				if out == "" {
					_, err = e.stdout.Write(doc)
					return err
				}
				return os.WriteFile(out, doc, 0o644)
			}},
		{path: "supply epcis import", usage: "FILE.jsonld", summary: "Submit the events of an EPCIS 2.0 document as supply txs, in order, signed by --from",
			example: "medledger supply epcis import --from acme-logistics --party urn:epc:id:pgln:0614141.00000=dist-co events.jsonld",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.StringVar(&from, "from", "", "keyring `key` that signs the txs")
				fs.Var(&parties, "party", "map a party of the document to an organisation: `URN=org` (repeatable); urn:medledger:org:<org> needs none")
				fs.BoolVar(&dryRun, "dry-run", false, "check the document and list the txs, without sending")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("name one EPCIS document")
				}
				doc, err := os.ReadFile(args[0])
				if err != nil {
					return err
				}
				opts := epcis.ImportOptions{Parties: map[string]string{}}
				for _, p := range parties {
					k, v, ok := strings.Cut(p, "=")
					if !ok || k == "" || v == "" {
						return usagef("--party takes URN=org, not %q", p)
					}
					opts.Parties[k] = v
				}
				steps, err := epcis.Import(doc, opts)
				if err != nil {
					return err
				}
				if dryRun {
					for _, s := range steps {
						fmt.Fprintf(e.stdout, "%s\t%s\n", s.Path, s.Msg.Type())
					}
					return nil
				}
				if from == "" {
					return usagef("--from is required (or --dry-run)")
				}
				k, err := e.key(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				c, signer := e.client(), client.SignerOf(k)
				bar := &progress{w: e.stderr, total: len(steps), start: time.Now()}
				for i, s := range steps {
					if _, err := c.Send(ctx, signer, s.Msg); err != nil {
						return fmt.Errorf("%s (%s): %w; the %d events before it were recorded", s.Path, s.Msg.Type(), err, i)
					}
					bar.show(i+1, "events")
				}
				fmt.Fprintf(e.stdout, "imported %d txs from %s\n", len(steps), args[0])
				return nil
			}},
	}
}
