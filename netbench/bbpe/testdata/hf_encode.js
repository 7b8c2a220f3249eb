// hf_encode.js encodes lines with Hugging Face tokenizers, for comparison with
// package bbpe.
//
// Usage: node hf_encode.js TOKENIZER_JSON [--json] < lines
//
// Each input line is one text (with --json, a JSON string literal, so texts
// may hold any character). For each, one output line: the token ids,
// space-separated, without special tokens added by a post-processor.
// NODE_PATH or a node_modules folder beside this script must hold tokenizers.
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const file = args.find((a) => a !== '--json');
  if (!file) {
    console.error('usage: node hf_encode.js TOKENIZER_JSON [--json] < lines');
    process.exit(2);
  }
  const tok = Tokenizer.fromFile(file);
  let input = fs.readFileSync(0, 'utf8');
  if (input.endsWith('\n')) input = input.slice(0, -1);
  const lines = input === '' ? [] : input.split('\n').map((l) => (json ? JSON.parse(l) : l));
  const out = [];
  for (const line of lines) {
    const enc = await tok.encode(line, null, { addSpecialTokens: false });
    out.push(enc.getIds().join(' '));
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
