package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"medledger"
	"medledger/client"
	"medledger/internal/identity"
	"medledger/seal"
)

// publicKeyFile is what `keys show --output json` prints, and what
// --admin/--keys accept as a file: how a new member hands their public keys
// to an admin without sharing anything secret.
type publicKeyFile struct {
	Name                string       `json:"name"`
	ID                  medledger.ID `json:"id"`
	DID                 string       `json:"did"`
	SigningPublicKey    []byte       `json:"signing_public_key"`
	EncryptionPublicKey []byte       `json:"encryption_public_key"`
	SigningKeyID        string       `json:"signing_key_id"`
	EncryptionKeyID     string       `json:"encryption_key_id"`
	Created             time.Time    `json:"created"`
}

func publicOf(i client.KeyInfo) publicKeyFile {
	return publicKeyFile{Name: i.Name, ID: i.ID, DID: i.ID.DID(), SigningPublicKey: i.SigningPublicKey, EncryptionPublicKey: i.EncryptionPublicKey,
		SigningKeyID: seal.KeyID(i.SigningPublicKey), EncryptionKeyID: seal.KeyID(i.EncryptionPublicKey), Created: i.Created}
}

// resolvePubKeys reads public keys from a file written by `keys show
// --output json`, or from the keyring key of that name.
func (e *env) resolvePubKeys(spec string) (identity.PublicKeys, error) {
	if spec == "" {
		return identity.PublicKeys{}, usagef("name a keyring key or a public-key file")
	}
	if b, err := os.ReadFile(spec); err == nil {
		var f publicKeyFile
		if err := json.Unmarshal(b, &f); err != nil {
			return identity.PublicKeys{}, fmt.Errorf("%s: not a public-key file (from `medledger keys show NAME --output json`): %v", spec, err)
		}
		k := identity.PublicKeys{SigningKey: f.SigningPublicKey, EncryptionKey: f.EncryptionPublicKey}
		return k, k.Validate()
	}
	kr, err := e.keyring()
	if err != nil {
		return identity.PublicKeys{}, err
	}
	info, err := kr.Info(spec)
	if err != nil {
		return identity.PublicKeys{}, fmt.Errorf("%q is neither a file nor a keyring key: %w", spec, err)
	}
	return identity.PublicKeys{SigningKey: info.SigningPublicKey, EncryptionKey: info.EncryptionPublicKey}, nil
}

// resolveID accepts an account ID, a did:medledger: DID, or a keyring name.
func (e *env) resolveID(s string) (medledger.ID, error) {
	if s == "" {
		return "", usagef("an account is required")
	}
	id := medledger.ID(trimDID(s))
	if id.Validate() == nil {
		return id, nil
	}
	kr, err := e.keyring()
	if err != nil {
		return "", err
	}
	info, err := kr.Info(s)
	if err != nil {
		return "", fmt.Errorf("%q is neither an account ID nor a keyring key", s)
	}
	return info.ID, nil
}

func trimDID(s string) string {
	const p = "did:medledger:"
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func keysCommands() []command {
	var file string
	var signing, encryption bool
	return []command{
		{path: "keys new", usage: "NAME", summary: "Create a signing key and an encryption key in the keyring",
			example: "medledger keys new alice                              # prompts for a passphrase\nMEDLEDGER_PASSPHRASE=... medledger keys new alice     # in scripts",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one key name")
				}
				kr, p, err := e.unlock("New passphrase for key "+args[0], true)
				if err != nil {
					return err
				}
				k, err := kr.New(args[0], p)
				if err != nil {
					return err
				}
				defer k.Zero()
				return e.printKey(k.KeyInfo)
			}},
		{path: "keys list", summary: "List the keyring's keys (no passphrase needed)",
			example: "medledger keys list --output json",
			run: func(ctx context.Context, e *env, args []string) error {
				kr, err := e.keyring()
				if err != nil {
					return err
				}
				infos, err := kr.List()
				if err != nil {
					return err
				}
				list := make([]publicKeyFile, len(infos))
				for i, in := range infos {
					list[i] = publicOf(in)
				}
				return e.print(list, func(tw io.Writer) {
					fmt.Fprintln(tw, "NAME\tACCOUNT\tCREATED")
					for _, k := range list {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.ID, k.Created.Format(time.RFC3339))
					}
				})
			}},
		{path: "keys show", usage: "NAME", summary: "Show a key's account ID, DID and public keys; --output json writes a public-key file to hand to an admin",
			example: "medledger keys show alice --output json > alice.pub.json",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one key name")
				}
				kr, err := e.keyring()
				if err != nil {
					return err
				}
				info, err := kr.Info(args[0])
				if err != nil {
					return err
				}
				return e.printKey(info)
			}},
		{path: "keys export", usage: "NAME", summary: "Write a key's encrypted file (for backup, or to import into the web portal)",
			example: "medledger keys export alice --file alice.key",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.StringVar(&file, "file", "", "write to this `file` instead of standard output")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one key name")
				}
				kr, p, err := e.unlock("Passphrase for key "+args[0], false)
				if err != nil {
					return err
				}
				data, err := kr.Export(args[0], p)
				if err != nil {
					return err
				}
				if file == "" {
					_, err = e.stdout.Write(data)
					return err
				}
				return os.WriteFile(file, data, 0o600)
			}},
		{path: "keys import", usage: "NAME FILE", summary: "Import a key file written by `keys export`",
			example: "medledger keys import alice alice.key",
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 2 {
					return usagef("give a key name and a file")
				}
				data, err := os.ReadFile(args[1])
				if err != nil {
					return err
				}
				kr, p, err := e.unlock("Passphrase of the key file", false)
				if err != nil {
					return err
				}
				k, err := kr.ImportFile(args[0], data, p)
				if err != nil {
					return err
				}
				defer k.Zero()
				return e.printKey(k.KeyInfo)
			}},
		{path: "keys rotate", usage: "NAME", summary: "Replace a key's signing and/or encryption key on-chain; old encryption keys stay in the keyring",
			example: "medledger keys rotate alice --encryption",
			setup: func(e *env, fs *flag.FlagSet) {
				fs.BoolVar(&signing, "signing", false, "rotate the signing key")
				fs.BoolVar(&encryption, "encryption", false, "rotate the encryption key")
			},
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("give one key name")
				}
				if !signing && !encryption {
					return usagef("choose --signing, --encryption or both")
				}
				kr, p, err := e.unlock("Passphrase for key "+args[0], false)
				if err != nil {
					return err
				}
				k, err := kr.Get(args[0], p)
				if err != nil {
					return err
				}
				defer k.Zero()
				c := e.client()
				chainID, err := c.ChainID(ctx)
				if err != nil {
					return err
				}
				old := client.SignerOf(k)
				msg := &client.RotateKeys{}
				if signing {
					if err := k.RotateSigningKey(); err != nil {
						return err
					}
					msg.SigningKey = k.SigningPublicKey
					msg.Proof = client.RotationProof(chainID, k.ID, k.SigningKey)
				}
				if encryption {
					if err := k.RotateEncryptionKey(); err != nil {
						return err
					}
					msg.EncryptionKey = k.EncryptionPublicKey
				}
				st, err := c.Send(ctx, old, msg)
				if err != nil {
					return fmt.Errorf("the rotation was not committed; the keyring is unchanged: %w", err)
				}
				if err := kr.Save(k, p); err != nil {
					return fmt.Errorf("rotation committed at height %d but saving the keyring failed: %w", st.Height, err)
				}
				return e.printTx(st)
			}},
	}
}

// unlock opens the keyring and asks for a passphrase.
func (e *env) unlock(prompt string, confirm bool) (*client.Keyring, string, error) {
	kr, err := e.keyring()
	if err != nil {
		return nil, "", err
	}
	p, err := e.passphrase(prompt, confirm)
	return kr, p, err
}

func (e *env) printKey(i client.KeyInfo) error {
	k := publicOf(i)
	return e.print(k, func(tw io.Writer) {
		fmt.Fprintf(tw, "name\t%s\naccount\t%s\ndid\t%s\nsigning key\t%s (%s)\nencryption key\t%s (ML-KEM-768+X25519, %d bytes)\n",
			k.Name, k.ID, k.DID, base64.StdEncoding.EncodeToString(k.SigningPublicKey), k.SigningKeyID, k.EncryptionKeyID, len(k.EncryptionPublicKey))
	})
}
