// Package netbench turns network captures into the text the Lens model reads:
// captures are dissected (package dissect), frames are grouped into
// bidirectional flows, each flow's first packets are rendered as anonymised
// packet lines with typed field spans, and flows are written to compressed
// corpus shards with a manifest that names the exact data by content hash.
// A corpus is split (by 5-tuple or capture, drawn with a seed or fixed by its
// input) and audited for leaks; a corpus of one's own captures carries its
// own registry of datasets, classes and tasks (OpenRegistry).
package netbench
