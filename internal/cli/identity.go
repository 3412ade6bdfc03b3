package cli

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"medledger"
	"medledger/client"
	"medledger/internal/node"
	"medledger/seal"
)

// send signs msg with the keyring key from and waits for it to commit.
func (e *env) send(ctx context.Context, from string, msg client.Msg) error {
	if from == "" {
		return usagef("--from is required")
	}
	k, err := e.key(from)
	if err != nil {
		return err
	}
	defer k.Zero()
	st, err := e.client().Send(ctx, client.SignerOf(k), msg)
	if err != nil {
		return err
	}
	return e.printTx(st)
}

func parseRoles(s string) ([]medledger.Role, error) {
	var roles []medledger.Role
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !medledger.Role(r).Valid() {
			return nil, usagef("unknown role %q; roles: %s", r, joinRoles(medledger.Roles))
		}
		roles = append(roles, medledger.Role(r))
	}
	if len(roles) == 0 {
		return nil, usagef("--roles is required; roles: %s", joinRoles(medledger.Roles))
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

func joinRoles(rs []medledger.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func orgTypes() string {
	s := make([]string, len(medledger.OrgTypes))
	for i, t := range medledger.OrgTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// parseExpiry accepts an RFC 3339 time or a duration from now.
func parseExpiry(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(d).Unix(), nil
	}
	return 0, usagef("--expires must be an RFC 3339 time or a duration such as 720h")
}

func identityCommands() []command {
	var (
		from, id, typ, name, licence, gateway, validatorKey, admin string
		reason, keys, roles, member, patient, method, delegate     string
		relation, expires                                          string
	)
	fromFlag := func(def string) func(*flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			fs.StringVar(&from, "from", def, "keyring `key` that signs the tx")
		}
	}
	memberStatus := func(verb string, status medledger.Status) command {
		return command{path: "member " + verb, summary: "An organisation admin " + map[string]string{"suspend": "suspends a member: they can sign nothing until reinstated", "reinstate": "reinstates a suspended member", "remove": "removes a member for good"}[verb],
			example: fmt.Sprintf("medledger member %s --from hospital-admin --member dr-lee --reason audit", verb),
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag("")(fs)
				fs.StringVar(&member, "member", "", "member's account `ID` or keyring name")
				fs.StringVar(&reason, "reason", "", "reason, recorded on-chain (no patient data)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				mid, err := e.resolveID(member)
				if err != nil {
					return err
				}
				return e.send(ctx, from, &client.SetMemberStatus{Member: mid, Status: status, Reason: reason})
			}}
	}
	return []command{
		{path: "org admit", summary: "The consortium authority admits an organisation and its first admin (each regulator submits the same command until the threshold is met)",
			example: "medledger keys new stmarys-admin\nmedledger org admit --from authority --id st-marys --type hospital --name \"St Mary's\" \\\n  --licence H-0042 --gateway https://gw.stmarys.example --admin stmarys-admin",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag("authority")(fs)
				fs.StringVar(&id, "id", "", "organisation `ID` (lowercase letters, digits, '-')")
				fs.StringVar(&typ, "type", "", "organisation `type`: "+orgTypes())
				fs.StringVar(&name, "name", "", "organisation `name`")
				fs.StringVar(&licence, "licence", "", "licence `ID`")
				fs.StringVar(&gateway, "gateway", "", "gateway `URL` other nodes fetch its blobs from")
				fs.StringVar(&validatorKey, "validator-key", "", "the org's validator Ed25519 public key, `base64`")
				fs.StringVar(&admin, "admin", "", "first admin: keyring `name` or public-key file")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				adm, err := e.resolvePubKeys(admin)
				if err != nil {
					return err
				}
				m := &client.AdmitOrg{Org: id, OrgType: medledger.OrgType(typ), Name: name, Licence: licence, GatewayURL: gateway, Admin: adm}
				if validatorKey != "" {
					if m.ValidatorKey, err = base64.StdEncoding.DecodeString(validatorKey); err != nil {
						return usagef("--validator-key must be base64")
					}
				}
				if err := m.Validate(); err != nil {
					return usagef("%v", err)
				}
				return e.send(ctx, from, m)
			}},
		{path: "org escrow-key", summary: "An organisation admin makes this node the organisation's break-glass escrow: a new key, kept in <home>/config/escrow.key, published on-chain",
			example: "medledger org escrow-key --from stmarys-admin --home ~/.medledger   # then restart the node",
			setup:   func(e *env, fs *flag.FlagSet) { fromFlag("")(fs) },
			run: func(ctx context.Context, e *env, args []string) error {
				if from == "" {
					return usagef("--from is required")
				}
				k, err := e.key(from)
				if err != nil {
					return err
				}
				defer k.Zero()
				c := e.client()
				acct, err := c.Account(ctx, k.ID)
				if err != nil {
					return err
				}
				if acct.Org == "" {
					return fmt.Errorf("%s is not a member of an organisation", from)
				}
				priv, err := seal.GenerateEncryptionKey()
				if err != nil {
					return err
				}
				raw, err := priv.Bytes()
				if err != nil {
					return err
				}
				path := filepath.Join(e.home, node.EscrowKeyFile)
				if err := os.WriteFile(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
					return err
				}
				st, err := c.Send(ctx, client.SignerOf(k), &client.SetOrgKey{EncryptionKey: priv.PublicKey().Bytes()})
				if err != nil {
					os.Remove(path)
					return err
				}
				cfg, err := node.LoadConfig(e.home)
				if err != nil {
					return err
				}
				cfg.Escrow.Org, cfg.Escrow.KeyFile = acct.Org, node.EscrowKeyFile
				if err := node.WriteConfig(e.home, cfg); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "this node now holds %s's escrow key (%s); restart it to serve break-glass re-wraps\n", acct.Org, path)
				return e.printTx(st)
			}},
		{path: "org remove", summary: "The consortium authority removes an organisation; its members can no longer act",
			example: "medledger org remove --from authority --id st-marys --reason \"licence revoked\"",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag("authority")(fs)
				fs.StringVar(&id, "id", "", "organisation `ID`")
				fs.StringVar(&reason, "reason", "", "reason, recorded on-chain")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				m := &client.RemoveOrg{Org: id, Reason: reason}
				if err := m.Validate(); err != nil {
					return usagef("%v", err)
				}
				return e.send(ctx, from, m)
			}},
		{path: "member enrol", summary: "An organisation admin enrols a member with roles",
			example: "medledger keys show dr-lee --output json > dr-lee.pub.json   # on the member's machine\nmedledger member enrol --from stmarys-admin --keys dr-lee.pub.json --roles physician",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag("")(fs)
				fs.StringVar(&keys, "keys", "", "member's public keys: keyring `name` or public-key file")
				fs.StringVar(&roles, "roles", "", "comma-separated `roles`: "+joinRoles(medledger.Roles))
			},
			run: func(ctx context.Context, e *env, args []string) error {
				k, err := e.resolvePubKeys(keys)
				if err != nil {
					return err
				}
				rs, err := parseRoles(roles)
				if err != nil {
					return err
				}
				return e.send(ctx, from, &client.EnrolMember{Keys: k, Roles: rs})
			}},
		memberStatus("suspend", medledger.StatusSuspended),
		memberStatus("reinstate", medledger.StatusActive),
		memberStatus("remove", medledger.StatusRemoved),
		{path: "member roles", summary: "An organisation admin replaces a member's roles",
			example: "medledger member roles --from stmarys-admin --member dr-lee --roles physician,admin",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag("")(fs)
				fs.StringVar(&member, "member", "", "member's account `ID` or keyring name")
				fs.StringVar(&roles, "roles", "", "comma-separated `roles`")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				mid, err := e.resolveID(member)
				if err != nil {
					return err
				}
				rs, err := parseRoles(roles)
				if err != nil {
					return err
				}
				return e.send(ctx, from, &client.SetMemberRoles{Member: mid, Roles: rs})
			}},
		{path: "patient register", summary: "Register yourself as a patient with a keyring key",
			example: "medledger keys new me\nmedledger patient register --from me",
			setup:   func(e *env, fs *flag.FlagSet) { fromFlag("")(fs) },
			run: func(ctx context.Context, e *env, args []string) error {
				if from == "" {
					return usagef("--from is required")
				}
				k, err := e.resolvePubKeys(from)
				if err != nil {
					return err
				}
				return e.send(ctx, from, &client.RegisterPatient{Keys: k})
			}},
		{path: "patient attest", summary: "A provider's registrar, clinician or admin attests a patient's identity (KYC)",
			example: "medledger patient attest --from desk-1 --patient 3xk2...q7 --method in_person",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag("")(fs)
				fs.StringVar(&patient, "patient", "", "patient's account `ID` or keyring name")
				fs.StringVar(&method, "method", "in_person", "how the identity was checked: in_person, document, video, electronic_id")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				pid, err := e.resolveID(patient)
				if err != nil {
					return err
				}
				return e.send(ctx, from, &client.AttestPatient{Patient: pid, Method: method})
			}},
		{path: "patient delegate", summary: "A patient appoints (or updates) a delegate who may act for them",
			example: "medledger patient delegate --from me --delegate mum --relation guardian --expires 8760h",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag("")(fs)
				fs.StringVar(&delegate, "delegate", "", "delegate's account `ID` or keyring name")
				fs.StringVar(&relation, "relation", "", "relation: guardian, parent, spouse, partner, child, family, caregiver, legal_representative, other")
				fs.StringVar(&expires, "expires", "", "end of the delegation: RFC 3339 time or duration (default: none)")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				did, err := e.resolveID(delegate)
				if err != nil {
					return err
				}
				exp, err := parseExpiry(expires)
				if err != nil {
					return err
				}
				return e.send(ctx, from, &client.SetDelegate{Delegate: did, Relation: relation, Expires: exp})
			}},
		{path: "patient undelegate", summary: "A patient ends a delegation",
			example: "medledger patient undelegate --from me --delegate mum",
			setup: func(e *env, fs *flag.FlagSet) {
				fromFlag("")(fs)
				fs.StringVar(&delegate, "delegate", "", "delegate's account `ID` or keyring name")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				did, err := e.resolveID(delegate)
				if err != nil {
					return err
				}
				return e.send(ctx, from, &client.RemoveDelegate{Delegate: did})
			}},
	}
}
