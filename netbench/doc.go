// Package netbench turns network captures into the text the Lens model reads:
// captures are dissected (package dissect), frames are grouped into
// bidirectional flows, each flow's first packets are rendered as anonymised
// packet lines with typed field spans, and flows are written to compressed
// corpus shards with a manifest that names the exact data by content hash.
package netbench
