// go-agency: a small agency client in Go that signs planwatch progress events the way
// docs/contract.md specifies (Ed25519 over the signing input, RFC 8785 canonical data), so a
// test can check that events signed outside Python are accepted by ingest.
//
// Input (stdin): {"seed_hex": "<32-byte Ed25519 seed>", "sigkeyid": "...",
//                 "events": [{"attributes": {...CloudEvents attributes...}, "data": {...}}]}
// Output (stdout): one structured-mode CloudEvent (JSON) per line, signed.
package main

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/gowebpki/jcs"
)

type input struct {
	SeedHex  string  `json:"seed_hex"`
	SigKeyID string  `json:"sigkeyid"`
	Events   []event `json:"events"`
}

type event struct {
	Attributes map[string]string `json:"attributes"`
	Data       json.RawMessage   `json:"data"`
}

func signingInput(attrs map[string]string, keyID string, canonicalData []byte) []byte {
	lines := []string{
		"planwatch-sig-v1",
		attrs["specversion"],
		attrs["id"],
		attrs["source"],
		attrs["type"],
		attrs["subject"], // empty when absent
		attrs["time"],
		attrs["datacontenttype"],
		keyID,
	}
	return append([]byte(strings.Join(lines, "\n")+"\n"), canonicalData...)
}

func run() error {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return fmt.Errorf("reading the input: %w", err)
	}
	seed, err := hex.DecodeString(in.SeedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		return fmt.Errorf("seed_hex must be %d bytes of hex", ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, ev := range in.Events {
		canonical, err := jcs.Transform(ev.Data)
		if err != nil {
			return fmt.Errorf("canonicalizing event %s: %w", ev.Attributes["id"], err)
		}
		signature := ed25519.Sign(key, signingInput(ev.Attributes, in.SigKeyID, canonical))
		structured := map[string]any{}
		for name, value := range ev.Attributes {
			structured[name] = value
		}
		structured["sigkeyid"] = in.SigKeyID
		structured["signature"] = base64.RawURLEncoding.EncodeToString(signature)
		structured["data"] = json.RawMessage(canonical)
		line, err := json.Marshal(structured)
		if err != nil {
			return err
		}
		out.Write(line)
		out.WriteString("\n")
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-agency:", err)
		os.Exit(1)
	}
}
