// hf_train_bench.js times Hugging Face tokenizers' BPE training on files, to
// set beside BenchmarkTrain and 'lens tokenizer train'.
//
// Usage: node hf_train_bench.js OUT_TOKENIZER_JSON FILE...
//
// The node binding trains with the model's default trainer (vocabulary 30000,
// no minimum frequency, alphabet from the data); only the pre-tokenizer is
// set, to ByteLevel as in package bbpe, so the work is comparable but not
// identical to 'lens tokenizer train --vocab 30000 --min-freq 1'.
'use strict';
const { Tokenizer, BPE, byteLevelPreTokenizer } = require('tokenizers');

const [out, ...files] = process.argv.slice(2);
if (!out || files.length === 0) {
  console.error('usage: node hf_train_bench.js OUT_TOKENIZER_JSON FILE...');
  process.exit(2);
}
const tok = new Tokenizer(BPE.empty());
tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
const cpu0 = process.cpuUsage();
const start = process.hrtime.bigint();
tok.train(files);
const secs = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpu0);
tok.save(out);
console.log(
  `hf train: ${secs.toFixed(3)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(3)} s CPU, vocabulary ${tok.getVocabSize()}`,
);
