// Command verifier is an independent auditor's check of a tally ledger export.
//
// It uses only the Go standard library and golang.org/x/mod/sumdb/{note,tlog}.
// Exit status: 0 verified, 1 verification failure (one-line reason on stderr),
// 2 usage error.
//
//	verifier check DIR [--key VKEYFILE]
//	verifier inclusion PROOF.json CHECKPOINT KEYS.vkey [--entry FILE]
//	verifier consistency PROOF.json OLD_CHECKPOINT NEW_CHECKPOINT KEYS.vkey
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const usage = `usage:
  verifier check DIR [--key VKEYFILE]
  verifier inclusion PROOF.json CHECKPOINT KEYS.vkey [--entry FILE]
  verifier consistency PROOF.json OLD_CHECKPOINT NEW_CHECKPOINT KEYS.vkey`

// emptyRoot is the RFC 6962 hash of the empty tree, SHA-256("").
// (tlog.TreeHash(0, ...) returns an all-zero hash instead, so size 0 is handled here.)
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	out, err := run(os.Args[1:])
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "verifier: %s\n%s\n", ue.msg, usage)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "FAIL: %s\n", oneLine(err.Error()))
		os.Exit(1)
	}
	fmt.Println(out)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// parseArgs splits args into positional arguments and the allowed --name VALUE
// (or --name=VALUE) options; options may appear anywhere.
func parseArgs(args []string, allowed ...string) (pos []string, opts map[string]string, err error) {
	opts = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		ok := false
		for _, n := range allowed {
			ok = ok || n == name
		}
		if !ok {
			return nil, nil, usageError{"unknown option " + a}
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, nil, usageError{"option " + a + " needs a value"}
			}
			i++
			val = args[i]
		}
		if _, dup := opts[name]; dup {
			return nil, nil, usageError{"option --" + name + " given twice"}
		}
		opts[name] = val
	}
	return pos, opts, nil
}

func run(args []string) (string, error) {
	if len(args) == 0 {
		return "", usageError{"missing subcommand"}
	}
	switch args[0] {
	case "check":
		pos, opts, err := parseArgs(args[1:], "key")
		if err != nil {
			return "", err
		}
		if len(pos) != 1 {
			return "", usageError{"check takes exactly one DIR"}
		}
		keyFile, hasKey := opts["key"]
		return check(pos[0], keyFile, hasKey)
	case "inclusion":
		pos, opts, err := parseArgs(args[1:], "entry")
		if err != nil {
			return "", err
		}
		if len(pos) != 3 {
			return "", usageError{"inclusion takes PROOF.json CHECKPOINT KEYS.vkey"}
		}
		entryFile, hasEntry := opts["entry"]
		return inclusion(pos[0], pos[1], pos[2], entryFile, hasEntry)
	case "consistency":
		pos, _, err := parseArgs(args[1:])
		if err != nil {
			return "", err
		}
		if len(pos) != 4 {
			return "", usageError{"consistency takes PROOF.json OLD_CHECKPOINT NEW_CHECKPOINT KEYS.vkey"}
		}
		return consistency(pos[0], pos[1], pos[2], pos[3])
	case "-h", "--help", "help":
		return "", usageError{"help"}
	default:
		return "", usageError{"unknown subcommand " + strconv.Quote(args[0])}
	}
}

// ---- keys and checkpoints ----

// readKeys parses a file of verifier keys, one per line; blank lines are ignored.
func readKeys(path string) ([]note.Verifier, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var vs []note.Verifier
	var texts []string
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || seen[line] {
			continue // identical repeated keys would make note.VerifierList ambiguous
		}
		v, err := note.NewVerifier(line)
		if err != nil {
			return nil, nil, fmt.Errorf("%s line %d: bad verifier key: %v", path, i+1, err)
		}
		seen[line] = true
		vs = append(vs, v)
		texts = append(texts, line)
	}
	if len(vs) == 0 {
		return nil, nil, fmt.Errorf("%s: no verifier keys", path)
	}
	return vs, texts, nil
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// openCheckpoint verifies the signed note at path and parses its three-line body.
func openCheckpoint(path string, keys []note.Verifier) (checkpoint, error) {
	var cp checkpoint
	msg, err := os.ReadFile(path)
	if err != nil {
		return cp, err
	}
	n, err := note.Open(msg, note.VerifierList(keys...))
	if err != nil {
		var unv *note.UnverifiedNoteError
		if errors.As(err, &unv) {
			return cp, fmt.Errorf("%s: checkpoint not signed by a known key", path)
		}
		return cp, fmt.Errorf("%s: %v", path, err)
	}
	lines := strings.Split(n.Text, "\n") // n.Text always ends in "\n"
	if len(lines) != 4 || lines[3] != "" {
		return cp, fmt.Errorf("%s: checkpoint body must be exactly three lines", path)
	}
	cp.origin = lines[0]
	if cp.origin == "" {
		return cp, fmt.Errorf("%s: empty origin", path)
	}
	if cp.size, err = parseSize(lines[1]); err != nil {
		return cp, fmt.Errorf("%s: tree size: %v", path, err)
	}
	if cp.root, err = parseHash(lines[2]); err != nil {
		return cp, fmt.Errorf("%s: root hash: %v", path, err)
	}
	signedByOrigin := false
	for _, s := range n.Sigs {
		signedByOrigin = signedByOrigin || s.Name == cp.origin
	}
	if !signedByOrigin {
		return cp, fmt.Errorf("%s: origin %q does not match the name of any verifying key", path, cp.origin)
	}
	return cp, nil
}

// parseSize accepts only canonical non-negative decimal (no sign, no leading zeros).
func parseSize(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || strconv.FormatInt(v, 10) != s {
		return 0, fmt.Errorf("not a canonical decimal: %q", s)
	}
	return v, nil
}

// parseHash accepts only the canonical padded standard base64 of 32 bytes.
func parseHash(s string) (tlog.Hash, error) {
	h, err := tlog.ParseHash(s)
	if err != nil || h.String() != s {
		return tlog.Hash{}, fmt.Errorf("not canonical base64 of 32 bytes: %q", s)
	}
	return h, nil
}

// ---- check ----

func check(dir, keyFile string, hasKey bool) (string, error) {
	var keys []note.Verifier
	var err error
	if hasKey {
		if keys, _, err = readKeys(keyFile); err != nil {
			return "", err
		}
	} else {
		var texts []string
		if keys, texts, err = readKeys(filepath.Join(dir, "keys.vkey")); err != nil {
			return "", err
		}
		// The export must be self-consistent: its current key is among all keys.
		_, cur, err := readKeys(filepath.Join(dir, "log.vkey"))
		if err != nil {
			return "", err
		}
		if len(cur) != 1 {
			return "", fmt.Errorf("log.vkey must hold exactly one key")
		}
		found := false
		for _, t := range texts {
			found = found || t == cur[0]
		}
		if !found {
			return "", fmt.Errorf("log.vkey key is not listed in keys.vkey")
		}
	}

	cp, err := openCheckpoint(filepath.Join(dir, "checkpoint"), keys)
	if err != nil {
		return "", err
	}

	f, err := os.Open(filepath.Join(dir, "entries.jsonl"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)

	var stored []tlog.Hash // in-memory stored hashes, indexed per tlog.StoredHashIndex
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("hash index %d not stored", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	var n int64
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) != 0 {
				return "", fmt.Errorf("entries.jsonl: line %d does not end with a newline (truncated?)", n)
			}
			break
		}
		if err != nil {
			return "", fmt.Errorf("entries.jsonl: %v", err)
		}
		hs, err := tlog.StoredHashes(n, line[:len(line)-1], reader)
		if err != nil {
			return "", err
		}
		stored = append(stored, hs...)
		n++
	}
	if n != cp.size {
		return "", fmt.Errorf("entries.jsonl has %d entries but checkpoint size is %d", n, cp.size)
	}
	root := emptyRoot
	if n > 0 {
		if root, err = tlog.TreeHash(n, reader); err != nil {
			return "", err
		}
	}
	if root != cp.root {
		return "", fmt.Errorf("tree hash of entries.jsonl %s does not match checkpoint root %s", root, cp.root)
	}
	return fmt.Sprintf("ok %s size=%d root=%s", cp.origin, cp.size, cp.root), nil
}

// ---- proofs ----

func readJSON(path string, v interface{}) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

func parseHashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := parseHash(s)
		if err != nil {
			return nil, fmt.Errorf("hashes[%d]: %v", i, err)
		}
		out[i] = h
	}
	return out, nil
}

func inclusion(proofPath, cpPath, keysPath, entryFile string, hasEntry bool) (string, error) {
	var p struct {
		Index    *int64    `json:"index"`
		Size     *int64    `json:"size"`
		LeafHash *string   `json:"leaf_hash"`
		Root     *string   `json:"root"`
		Hashes   *[]string `json:"hashes"`
	}
	if err := readJSON(proofPath, &p); err != nil {
		return "", err
	}
	if p.Index == nil || p.Size == nil || p.LeafHash == nil || p.Root == nil || p.Hashes == nil {
		return "", fmt.Errorf("%s: missing field (need index, size, leaf_hash, root, hashes)", proofPath)
	}
	if *p.Index < 0 || *p.Size <= 0 || *p.Index >= *p.Size {
		return "", fmt.Errorf("proof: need 0 <= index < size, got index=%d size=%d", *p.Index, *p.Size)
	}
	leaf, err := parseHash(*p.LeafHash)
	if err != nil {
		return "", fmt.Errorf("proof leaf_hash: %v", err)
	}
	root, err := parseHash(*p.Root)
	if err != nil {
		return "", fmt.Errorf("proof root: %v", err)
	}
	hashes, err := parseHashes(*p.Hashes)
	if err != nil {
		return "", fmt.Errorf("proof %v", err)
	}
	keys, _, err := readKeys(keysPath)
	if err != nil {
		return "", err
	}
	cp, err := openCheckpoint(cpPath, keys)
	if err != nil {
		return "", err
	}
	if cp.size != *p.Size {
		return "", fmt.Errorf("checkpoint size %d != proof size %d", cp.size, *p.Size)
	}
	if cp.root != root {
		return "", fmt.Errorf("checkpoint root %s != proof root %s", cp.root, root)
	}
	if hasEntry {
		data, err := os.ReadFile(entryFile)
		if err != nil {
			return "", err
		}
		// Entries never contain '\n' (each is one line of entries.jsonl), so a single
		// trailing newline, as in entries.jsonl, is unambiguous and is dropped.
		data = bytes.TrimSuffix(data, []byte("\n"))
		if bytes.IndexByte(data, '\n') >= 0 {
			return "", fmt.Errorf("entry file holds more than one line")
		}
		if tlog.RecordHash(data) != leaf {
			return "", fmt.Errorf("entry hash %s != proof leaf_hash %s", tlog.RecordHash(data), leaf)
		}
	}
	if err := tlog.CheckRecord(tlog.RecordProof(hashes), cp.size, cp.root, *p.Index, leaf); err != nil {
		return "", fmt.Errorf("inclusion proof: %v", err)
	}
	return fmt.Sprintf("ok inclusion index=%d size=%d", *p.Index, *p.Size), nil
}

func consistency(proofPath, oldPath, newPath, keysPath string) (string, error) {
	var p struct {
		From     *int64    `json:"from"`
		To       *int64    `json:"to"`
		FromRoot *string   `json:"from_root"`
		ToRoot   *string   `json:"to_root"`
		Hashes   *[]string `json:"hashes"`
	}
	if err := readJSON(proofPath, &p); err != nil {
		return "", err
	}
	if p.From == nil || p.To == nil || p.FromRoot == nil || p.ToRoot == nil || p.Hashes == nil {
		return "", fmt.Errorf("%s: missing field (need from, to, from_root, to_root, hashes)", proofPath)
	}
	if *p.From < 0 || *p.From > *p.To {
		return "", fmt.Errorf("proof: need 0 <= from <= to, got from=%d to=%d", *p.From, *p.To)
	}
	fromRoot, err := parseHash(*p.FromRoot)
	if err != nil {
		return "", fmt.Errorf("proof from_root: %v", err)
	}
	toRoot, err := parseHash(*p.ToRoot)
	if err != nil {
		return "", fmt.Errorf("proof to_root: %v", err)
	}
	hashes, err := parseHashes(*p.Hashes)
	if err != nil {
		return "", fmt.Errorf("proof %v", err)
	}
	keys, _, err := readKeys(keysPath)
	if err != nil {
		return "", err
	}
	oldCP, err := openCheckpoint(oldPath, keys)
	if err != nil {
		return "", err
	}
	newCP, err := openCheckpoint(newPath, keys)
	if err != nil {
		return "", err
	}
	if oldCP.origin != newCP.origin {
		return "", fmt.Errorf("checkpoints are from different logs: %q and %q", oldCP.origin, newCP.origin)
	}
	if oldCP.size != *p.From || newCP.size != *p.To {
		return "", fmt.Errorf("checkpoint sizes %d->%d != proof %d->%d", oldCP.size, newCP.size, *p.From, *p.To)
	}
	if oldCP.root != fromRoot {
		return "", fmt.Errorf("old checkpoint root %s != proof from_root %s", oldCP.root, fromRoot)
	}
	if newCP.root != toRoot {
		return "", fmt.Errorf("new checkpoint root %s != proof to_root %s", newCP.root, toRoot)
	}
	if oldCP.size == 0 {
		// The empty tree is a prefix of every tree; RFC 9162 gives an empty proof.
		if oldCP.root != emptyRoot || len(hashes) != 0 {
			return "", fmt.Errorf("consistency proof from size 0 must be empty with the empty-tree root")
		}
	} else if err := tlog.CheckTree(tlog.TreeProof(hashes), newCP.size, newCP.root, oldCP.size, oldCP.root); err != nil {
		return "", fmt.Errorf("consistency proof: %v", err)
	}
	return fmt.Sprintf("ok consistency %d->%d", oldCP.size, newCP.size), nil
}
