package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"medledger"
	"medledger/client"
	"medledger/internal/consent"
	"medledger/internal/fhir"
)

// user loads a keyring key as a client user; the caller zeroes it.
func (e *env) user(name string) (*client.Key, client.User, error) {
	if name == "" {
		return nil, client.User{}, usagef("--from is required")
	}
	k, err := e.key(name)
	if err != nil {
		return nil, client.User{}, err
	}
	return k, client.UserOf(k), nil
}

// progress draws a one-line progress bar on stderr.
type progress struct {
	w     io.Writer
	total int
	start time.Time
}

func (p *progress) show(done int, what string) {
	const width = 30
	filled := width * done / max(p.total, 1)
	rate := float64(done) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s (%.1f/s)   ", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, p.total, what, rate)
	if done == p.total {
		fmt.Fprintln(p.w)
	}
}

func recordCommands() []command {
	var (
		from, patient, file, contentType, category, purpose, out, to, org string
		categories, types, recs, expires, reason                          string
		version, maxReads                                                 int
		all, prove                                                        bool
	)
	fromFlag := func(fs *flag.FlagSet) { fs.StringVar(&from, "from", "", "keyring `key` acting") }
	patientFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&patient, "patient", "", "the patient's account `ID` or keyring name")
	}
	purposeFlag := func(fs *flag.FlagSet, def string) {
		fs.StringVar(&purpose, "purpose", def, "purpose: "+strings.Join(consent.Purposes, ", "))
	}
	readContent := func() ([]byte, string, string, error) {
		if file == "" {
			return nil, "", "", usagef("--file is required")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, "", "", err
		}
		ct, cat := contentType, category
		if ct == "" {
			// A FHIR resource: validate it and take its type and category.
			rec, err := fhir.ImportResource(b)
			if err != nil {
				return nil, "", "", fmt.Errorf("%s: %w (for a non-FHIR file give --type with its media type and --category)", file, err)
			}
			b, ct = rec.JSON, rec.ResourceType
			if cat == "" {
				cat = rec.Category
			}
		}
		if cat == "" {
			return nil, "", "", usagef("--category is required for a non-FHIR file")
		}
		return b, ct, cat, nil
	}
	return []command{
		{path: "record put", summary: "Seal a record on this machine and anchor it for a patient (FHIR JSON is validated and categorised)",
			example: "medledger record put --from lab-tech --patient pat --file hba1c.json\nmedledger record put --from radiologist --patient pat --file scan.dcm --type application/dicom --category imaging",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				patientFlag(fs)
				fs.StringVar(&file, "file", "", "the record's `file`")
				fs.StringVar(&contentType, "type", "", "media type, for a non-FHIR file")
				fs.StringVar(&category, "category", "", "category (default: from the FHIR resource)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				pid, err := e.resolveID(patient)
				if err != nil {
					return err
				}
				content, ct, cat, err := readContent()
				if err != nil {
					return err
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				ref, err := e.client().PutRecord(ctx, u, pid, content, ct, cat)
				if err != nil {
					return err
				}
				return e.printRef(ref)
			}},
		{path: "record amend", usage: "RECORD", summary: "Anchor a new version of a record (the author's organisation, or the patient for self-reported records)",
			example: "medledger record amend 3f2a...9c --from lab-tech --file hba1c-corrected.json",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&file, "file", "", "the new version's `file`")
				fs.StringVar(&contentType, "type", "", "media type, for a non-FHIR file")
				fs.StringVar(&category, "category", "", "category, for a non-FHIR file")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one record ID")
				}
				content, _, _, err := readContent()
				if err != nil {
					return err
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				ref, err := e.client().AmendRecord(ctx, u, args[0], content)
				if err != nil {
					return err
				}
				return e.printRef(ref)
			}},
		{path: "record get", usage: "RECORD", summary: "Read a record: the access is logged on-chain first, then the content is decrypted here",
			example: "medledger record get 3f2a...9c --from dr-lee --patient pat --purpose treatment --out result.json",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				patientFlag(fs)
				purposeFlag(fs, consent.PurposeTreatment)
				fs.IntVar(&version, "version", 0, "version to read (default: the latest)")
				fs.StringVar(&out, "out", "", "write the content to this `file` instead of standard output")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one record ID")
				}
				pid, err := e.resolveID(patient)
				if err != nil {
					return err
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				p, err := e.client().Read(ctx, u, pid, args[0], uint32(version), purpose)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "read %s v%d (%s, %s) as %s; access logged in tx %s\n", p.Record, p.Version, p.ContentType, p.Category, p.Basis, p.AccessTx)
				if out != "" {
					return os.WriteFile(out, p.Content, 0o600)
				}
				_, err = e.stdout.Write(p.Content)
				return err
			}},
		{path: "record history", usage: "RECORD", summary: "Show a record's versions (for those who may read it)",
			example: "medledger record history 3f2a...9c --from pat",
			setup:   func(e *env, fs *flag.FlagSet) { fromFlag(fs) },
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one record ID")
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				v, err := e.client().RecordInfo(ctx, u.Signer, args[0])
				if err != nil {
					return err
				}
				return e.print(v, func(tw io.Writer) { printView(tw, *v, true) })
			}},
		{path: "record list", summary: "List a patient's records that you may read",
			example: "medledger record list --from pat --patient pat",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				patientFlag(fs)
				purposeFlag(fs, consent.PurposeTreatment)
			},
			run: func(ctx context.Context, e *env, args []string) error {
				pid, err := e.resolveID(patient)
				if err != nil {
					return err
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				vs, err := e.client().Records(ctx, u.Signer, pid, purpose)
				if err != nil {
					return err
				}
				return e.print(vs, func(tw io.Writer) {
					fmt.Fprintln(tw, "RECORD\tCATEGORY\tTYPE\tVERSIONS\tAUTHOR ORG\tSTATUS")
					for _, v := range vs {
						printView(tw, v, false)
					}
				})
			}},
		{path: "record share", usage: "RECORD", summary: "Give another account a key wrap of every version of your record (after a grant or a break-glass)",
			example: "medledger record share 3f2a...9c --from pat --with er-doc",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&to, "with", "", "the reader's account `ID` or keyring name")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one record ID")
				}
				rid, err := e.resolveID(to)
				if err != nil {
					return err
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				c := e.client()
				a, err := c.Account(ctx, rid)
				if err != nil {
					return err
				}
				n, err := c.ShareWith(ctx, u, args[0], a.EncryptionKey)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "added %d key wraps for %s\n", n, rid)
				return nil
			}},
		{path: "record erase", usage: "RECORD", summary: "Erase a record at the patient's request: every node destroys its ciphertext and key wraps",
			example: "medledger record erase 3f2a...9c --from pat",
			setup:   func(e *env, fs *flag.FlagSet) { fromFlag(fs) },
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one record ID")
				}
				return e.send(ctx, from, &client.Erase{Record: args[0]})
			}},
		{path: "import fhir", usage: "FILE...", summary: "Import FHIR R4 resources or Bundles (Synthea output as-is): one sealed record per resource",
			example: "medledger import fhir --from lab-tech --patient pat bundle.json",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				patientFlag(fs)
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) == 0 {
					return usagef("give one or more FHIR files")
				}
				pid, err := e.resolveID(patient)
				if err != nil {
					return err
				}
				var all []fhir.Record
				skipped := 0
				for _, f := range args {
					b, err := os.ReadFile(f)
					if err != nil {
						return err
					}
					var probe struct {
						ResourceType string `json:"resourceType"`
					}
					json.Unmarshal(b, &probe)
					if probe.ResourceType == "Bundle" {
						s, err := fhir.SplitBundle(b)
						if err != nil {
							return fmt.Errorf("%s: %w", f, err)
						}
						all = append(all, s.Records...)
						for _, n := range s.Skipped {
							skipped += n
						}
						continue
					}
					r, err := fhir.ImportResource(b)
					if err != nil {
						return fmt.Errorf("%s: %w", f, err)
					}
					all = append(all, r)
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				bar := &progress{w: e.stderr, total: len(all), start: time.Now()}
				items := make([]client.Item, len(all))
				for i, r := range all {
					items[i] = client.Item{Content: r.JSON, ContentType: r.ResourceType, Category: r.Category}
				}
				fmt.Fprintf(e.stderr, "sealing and uploading %d records\n", len(items))
				got, err := e.client().PutRecords(ctx, u, pid, items, func(done int) { bar.show(done, "sealed") })
				if err != nil {
					return err
				}
				refs := make([]string, len(got))
				for i, r := range got {
					refs[i] = r.Record
				}
				return e.print(map[string]any{"imported": len(refs), "skipped_directory_entries": skipped, "records": refs}, func(tw io.Writer) {
					fmt.Fprintf(tw, "imported\t%d records\nskipped\t%d directory entries (organisations, practitioners, locations)\n", len(refs), skipped)
				})
			}},
		{path: "export fhir", summary: "Read every record of a patient you may read (each read is logged) and write a FHIR Bundle",
			example: "medledger export fhir --from pat --patient pat --out my-records.json",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				patientFlag(fs)
				purposeFlag(fs, consent.PurposePersonal)
				fs.StringVar(&out, "out", "", "write the Bundle to this `file` instead of standard output")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				pid, err := e.resolveID(patient)
				if err != nil {
					return err
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				bundle, n, err := exportBundle(ctx, e, u, pid, purpose)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "exported %d FHIR resources\n", n)
				if out != "" {
					return os.WriteFile(out, bundle, 0o600)
				}
				_, err = e.stdout.Write(bundle)
				return err
			}},
		{path: "timeline", summary: "Show a patient's records as a readable timeline: visits, conditions, results, medications, immunizations, claims (each read is logged)",
			example: "medledger timeline --from pat --patient pat",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				patientFlag(fs)
				purposeFlag(fs, consent.PurposePersonal)
			},
			run: func(ctx context.Context, e *env, args []string) error {
				pid, err := e.patientOr(patient, from)
				if err != nil {
					return err
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				bundle, _, err := exportBundle(ctx, e, u, pid, purpose)
				if err != nil {
					return err
				}
				s, err := fhir.SplitBundle(bundle)
				if err != nil {
					return err
				}
				tl := fhir.Timeline(s.Records)
				return e.print(tl, func(tw io.Writer) {
					fmt.Fprintln(tw, "DATE\tCATEGORY\tWHAT\tDETAIL")
					for _, en := range tl {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", en.Date, en.Category, en.Title, en.Detail)
					}
				})
			}},
		{path: "deidentify", usage: "FILE", summary: "De-identify a FHIR Bundle or resource (HIPAA Safe Harbor) for research, on this machine",
			example: "medledger deidentify my-records.json --out research.json",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.StringVar(&out, "out", "", "write to this `file` instead of standard output")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one FHIR file")
				}
				b, err := os.ReadFile(args[0])
				if err != nil {
					return err
				}
				key := make([]byte, 32)
				rand.Read(key)
				res, err := deidentify(b, fhir.DeidOptions{Key: key})
				if err != nil {
					return err
				}
				if out != "" {
					return os.WriteFile(out, res, 0o600)
				}
				_, err = e.stdout.Write(res)
				return err
			}},
		{path: "grant add", summary: "Grant a member or an organisation read access to your records, and share the matching records with them",
			example: "medledger grant add --from pat --to dr-lee --categories lab --purpose treatment --expires 720h\nmedledger grant add --from pat --org city-lab --all --purpose treatment --expires 2027-01-01T00:00:00Z --max-reads 10",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&patient, "patient", "", "the patient (default: --from; give it when acting as a delegate)")
				fs.StringVar(&to, "to", "", "grantee member's account `ID` or keyring name")
				fs.StringVar(&org, "org", "", "grantee organisation `ID` (every active member)")
				fs.BoolVar(&all, "all", false, "all records")
				fs.StringVar(&categories, "categories", "", "comma-separated categories: "+strings.Join(fhir.Categories(), ", "))
				fs.StringVar(&types, "types", "", "comma-separated FHIR resource types")
				fs.StringVar(&recs, "records", "", "comma-separated record IDs")
				purposeFlag(fs, consent.PurposeTreatment)
				fs.StringVar(&expires, "expires", "720h", "expiry: RFC 3339 time or duration")
				fs.IntVar(&maxReads, "max-reads", 0, "maximum number of reads (0: no limit)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				pid := u.ID
				if patient != "" {
					if pid, err = e.resolveID(patient); err != nil {
						return err
					}
				}
				g := &client.GrantAccess{ID: client.NewGrantID(), Patient: pid, Purpose: purpose, MaxReads: uint32(maxReads)}
				switch {
				case to != "" && org == "":
					if g.Grantee.Member, err = e.resolveID(to); err != nil {
						return err
					}
				case org != "" && to == "":
					g.Grantee.Org = org
				default:
					return usagef("give --to or --org")
				}
				g.Scope = client.Scope{All: all, Categories: sortedList(categories), ResourceTypes: sortedList(types), Records: sortedList(recs)}
				if g.Expires, err = parseExpiry(expires); err != nil {
					return err
				}
				if err := g.Validate(); err != nil {
					return usagef("%v", err)
				}
				st, err := e.client().Grant(ctx, u, g)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "grant %s is in force until %s\n", g.ID, time.Unix(g.Expires, 0).UTC().Format(time.RFC3339))
				return e.printTx(st)
			}},
		{path: "grant revoke", usage: "GRANT", summary: "Revoke a grant at once",
			example: "medledger grant revoke 9b1c...e4 --from pat",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&patient, "patient", "", "the patient (default: --from)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one grant ID")
				}
				pid, err := e.patientOr(patient, from)
				if err != nil {
					return err
				}
				return e.send(ctx, from, &client.Revoke{Patient: pid, Grant: args[0]})
			}},
		{path: "grant list", summary: "List a patient's grants and break-glass declarations",
			example: "medledger grant list --from pat",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&patient, "patient", "", "the patient (default: --from)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				pid, err := e.patientOr(patient, from)
				if err != nil {
					return err
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				gs, ems, err := e.client().Grants(ctx, u.Signer, pid)
				if err != nil {
					return err
				}
				return e.print(map[string]any{"grants": gs, "emergencies": ems}, func(tw io.Writer) {
					fmt.Fprintln(tw, "GRANT\tGRANTEE\tPURPOSE\tSCOPE\tEXPIRES\tREADS\tSTATUS")
					for _, g := range gs {
						who := string(g.Grantee.Member)
						if g.Grantee.Org != "" {
							who = "org " + g.Grantee.Org
						}
						status := "in force"
						if g.Revoked != 0 {
							status = "revoked"
						} else if time.Now().Unix() >= g.Expires {
							status = "expired"
						}
						reads := strconv.Itoa(int(g.Reads))
						if g.MaxReads != 0 {
							reads += "/" + strconv.Itoa(int(g.MaxReads))
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, who, g.Purpose, scopeText(g.Scope), time.Unix(g.Expires, 0).UTC().Format(time.RFC3339), reads, status)
					}
					for _, em := range ems {
						fmt.Fprintf(tw, "BREAK-GLASS\t%s (%s)\temergency\tall\t%s\t\t%s\n", em.Clinician, em.Org, time.Unix(em.Expires, 0).UTC().Format(time.RFC3339), em.Reason)
					}
				})
			}},
		{path: "emergency access", summary: "Break the glass: a physician or nurse declares an emergency for a patient. It is logged, flagged, time-boxed, and the patient is told",
			example: "medledger emergency access --from er-doc --patient 3xk2...q7 --reason unconscious",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				patientFlag(fs)
				fs.StringVar(&reason, "reason", "", "reason (required): "+strings.Join(consent.Reasons, ", "))
				fs.StringVar(&expires, "for", "24h", "how long, at most 72h")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				pid, err := e.resolveID(patient)
				if err != nil {
					return err
				}
				if reason == "" {
					return usagef("--reason is required: %s", strings.Join(consent.Reasons, ", "))
				}
				d, err := time.ParseDuration(expires)
				if err != nil {
					return usagef("--for must be a duration")
				}
				fmt.Fprintln(e.stderr, "WARNING: emergency access is logged on-chain, flagged, and the patient is told.")
				return e.send(ctx, from, &client.BreakGlass{Patient: pid, Reason: reason, Duration: int64(d.Seconds())})
			}},
		{path: "audit log", summary: "Show every access to a patient's records: who, role, organisation, record, purpose, basis and when",
			example: "medledger audit log --from pat --prove",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag(fs)
				fs.StringVar(&patient, "patient", "", "the patient (default: --from)")
				fs.BoolVar(&prove, "prove", false, "verify every event against the app hash")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				pid, err := e.patientOr(patient, from)
				if err != nil {
					return err
				}
				k, u, err := e.user(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				log, err := e.client().AccessLog(ctx, u.Signer, pid, prove)
				if err != nil {
					return err
				}
				return e.print(log, func(tw io.Writer) {
					fmt.Fprintln(tw, "TIME\tREADER\tORG\tROLES\tRECORD\tPURPOSE\tBASIS")
					for _, ev := range log {
						basis := ev.Basis
						if ev.Grant != "" {
							basis += " " + ev.Grant
						}
						if ev.Basis == consent.BasisBreakGlass {
							basis = "!! BREAK-GLASS"
						}
						if !ev.Allowed {
							basis = "!! NOT ALLOWED AT COMMIT"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s v%d\t%s\t%s\n", time.Unix(ev.Time, 0).UTC().Format(time.RFC3339), ev.Reader, ev.Org, joinRoles(ev.Roles), ev.Record, ev.Version, ev.Purpose, basis)
					}
					if prove {
						fmt.Fprintf(tw, "\nall %d events verified against the app hash\n", len(log))
					}
				})
			}},
	}
}

func (e *env) patientOr(patient, from string) (medledger.ID, error) {
	if patient != "" {
		return e.resolveID(patient)
	}
	return e.resolveID(from)
}

func sortedList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	slicesSortCompact(&out)
	return out
}

func scopeText(s client.Scope) string {
	if s.All {
		return "all"
	}
	var parts []string
	parts = append(parts, s.Categories...)
	parts = append(parts, s.ResourceTypes...)
	for _, r := range s.Records {
		parts = append(parts, "record "+r)
	}
	return strings.Join(parts, ",")
}

func printView(tw io.Writer, v client.RecordView, history bool) {
	r := v.Record
	status := "current"
	if r.Erased != 0 {
		status = "erased"
	}
	org := r.AuthorOrg
	if r.SelfReported {
		org = "(self-reported)"
	}
	if !history {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.Category, r.ContentType, r.Latest, org, status)
		return
	}
	fmt.Fprintf(tw, "record\t%s\npatient\t%s\ncategory\t%s\ntype\t%s\nauthor\t%s (%s)\nstatus\t%s\n", r.ID, r.Patient, r.Category, r.ContentType, r.Author, org, status)
	for _, ver := range v.Versions {
		sup := ""
		if ver.Supersedes != 0 {
			sup = fmt.Sprintf(", supersedes v%d", ver.Supersedes)
		}
		fmt.Fprintf(tw, "v%d\theight %d, %s, by %s (%s), %d bytes, blob %s%s\n", ver.Version, ver.Height, time.Unix(ver.Time, 0).UTC().Format(time.RFC3339), ver.Author, ver.AuthorOrg, ver.Size, ver.Blob, sup)
	}
}

func (e *env) printRef(ref *client.RecordRef) error {
	return e.print(ref, func(tw io.Writer) {
		fmt.Fprintf(tw, "record\t%s\nversion\t%d\nblob\t%s\ntx\t%s at height %d\n", ref.Record, ref.Version, ref.Blob, ref.Tx.Hash, ref.Tx.Height)
	})
}

// exportBundle reads every record of the patient the user may read and
// builds a FHIR Bundle of the FHIR ones.
func exportBundle(ctx context.Context, e *env, u client.User, patient medledger.ID, purpose string) ([]byte, int, error) {
	c := e.client()
	views, err := c.Records(ctx, u.Signer, patient, purpose)
	if err != nil {
		return nil, 0, err
	}
	var resources [][]byte
	for _, v := range views {
		if v.Record.Erased != 0 || !fhir.IsResourceType(v.Record.ContentType) {
			continue
		}
		p, err := c.Read(ctx, u, patient, v.Record.ID, 0, purpose)
		if err != nil {
			return nil, 0, fmt.Errorf("record %s: %w", v.Record.ID, err)
		}
		resources = append(resources, p.Content)
	}
	b, err := fhir.ExportBundle(resources)
	return b, len(resources), err
}

// deidentify de-identifies a Bundle (every entry) or one resource.
func deidentify(b []byte, opts fhir.DeidOptions) ([]byte, error) {
	var probe struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not FHIR JSON: %v", err)
	}
	if probe.ResourceType != "Bundle" {
		return fhir.Deidentify(b, opts)
	}
	s, err := fhir.SplitBundle(b)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(s.Records))
	for _, r := range s.Records {
		d, err := fhir.Deidentify(r.JSON, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.ResourceType, err)
		}
		out = append(out, d)
	}
	return fhir.ExportBundle(out)
}

func slicesSortCompact(s *[]string) {
	slices.Sort(*s)
	*s = slices.Compact(*s)
}
