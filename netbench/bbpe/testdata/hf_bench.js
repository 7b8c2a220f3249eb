// hf_bench.js measures Hugging Face tokenizers' encode speed on a file of
// lines, to set beside package bbpe's benchmarks.
//
// Usage: node hf_bench.js TOKENIZER_JSON LINES_FILE [seconds]
//
// It reports tokens/s and MB/s of input (per second of wall time, and per
// second of CPU time over all threads, steadier on a shared machine) for a
// loop of single encode calls and for encodeBatch over all the lines (which
// Rust runs on all cores), and for one encode call on the whole file joined
// by newlines, where the cost of crossing into Rust vanishes. Each call crosses from JavaScript to Rust and
// builds a JavaScript Encoding, which the numbers include.
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function measure(name, bytes, seconds, once) {
  await once(); // warm up the word cache
  let tokens = 0;
  let rounds = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    tokens += await once();
    rounds++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6; // all threads, Rust's included
  const mb = (bytes * rounds) / 1e6;
  console.log(
    `${name}\trounds=${rounds}\t${(tokens / elapsed).toFixed(0)} tokens/s\t` +
      `${(mb / elapsed).toFixed(2)} MB/s\t${(mb / cpuSecs).toFixed(2)} MB/cpu-s`,
  );
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
  // One call on the whole file: JavaScript's per-call cost vanishes and the
  // number is that of the Rust pipeline (one thread).
  const whole = lines.join('\n');
  const wholeBytes = Buffer.byteLength(whole, 'utf8');
  await measure('hf encode (whole file as one text)', wholeBytes, seconds, async () => {
    return (await tok.encode(whole, null, opts)).getLength();
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
