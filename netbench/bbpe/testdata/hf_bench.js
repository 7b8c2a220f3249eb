// hf_bench.js measures Hugging Face tokenizers' encode speed on a file of
// lines, to set beside package bbpe's benchmarks.
//
// Usage: node hf_bench.js TOKENIZER_JSON LINES_FILE [seconds]
//
// It reports tokens/s and MB/s of input for a loop of single encode calls and
// for encodeBatch over all the lines (which Rust runs on all cores).
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function measure(name, bytes, seconds, once) {
  await once(); // warm up the word cache
  let tokens = 0;
  let rounds = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    tokens += await once();
    rounds++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const mb = (bytes * rounds) / 1e6 / elapsed;
  console.log(`${name}\trounds=${rounds}\t${(tokens / elapsed).toFixed(0)} tokens/s\t${mb.toFixed(2)} MB/s`);
}

async function main() {
  const [file, linesFile, secs] = process.argv.slice(2);
  if (!file || !linesFile) {
    console.error('usage: node hf_bench.js TOKENIZER_JSON LINES_FILE [seconds]');
    process.exit(2);
  }
  const seconds = Number(secs || 5);
  const tok = Tokenizer.fromFile(file);
  let text = fs.readFileSync(linesFile, 'utf8');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  const lines = text.split('\n');
  const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l, 'utf8'), 0);
  console.log(`lines=${lines.length} bytes=${bytes}`);
  const opts = { addSpecialTokens: false };
  await measure('hf encode (one call per line)', bytes, seconds, async () => {
    let n = 0;
    for (const l of lines) n += (await tok.encode(l, null, opts)).getLength();
    return n;
  });
  await measure('hf encodeBatch (all cores)', bytes, seconds, async () => {
    let n = 0;
    const batch = 4096;
    for (let i = 0; i < lines.length; i += batch) {
      for (const e of await tok.encodeBatch(lines.slice(i, i + batch), opts)) n += e.getLength();
    }
    return n;
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
