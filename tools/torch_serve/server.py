"""PyTorch eager side of `deno task bench serve`: serves an edgetune-exported Hugging Face BERT folder
(config.json, model.safetensors, tokenizer.json) over HTTP on 127.0.0.1 with the same request/response shape
as edgetune's POST /v1/models/:id/predict and the same dynamic batching: requests are tokenized on arrival
(WordPiece, as the folder's tokenizer.json describes), queued, and merged into micro-batches bounded by a
padded-token budget and a maximum queue delay, padded to each batch's longest row; forward under
torch.inference_mode. Uses only Debian's python3-torch and numpy (no transformers/tokenizers/safetensors):
the safetensors file and the WordPiece tokenizer are read here. OPENBLAS_CORETYPE is chosen before torch loads.

Usage: /usr/bin/python3 tools/torch_serve/server.py MODEL_DIR --port P [--threads N]
       [--max-batch-tokens 8192] [--max-queue-delay-ms 2]
Prints one JSON line {"ready": true, "port": P, "torch": ..., "threads": N} when listening.
POST /predict {"inputs": str | [str], "parameters": {"max_length": n}} → [[{label, score}, ...], ...].
"""
import json
import math
import os
import queue
import socket
import sys
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def choose_core_type():
    try:
        with open("/proc/cpuinfo") as f:
            flags_line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return None
    flags = set(flags_line.split(":", 1)[-1].split())
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


if "OPENBLAS_CORETYPE" not in os.environ and choose_core_type():
    os.environ["OPENBLAS_CORETYPE"] = choose_core_type()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


# ---- safetensors (F32 only, as edgetune writes) ----------------------------------------------------------
def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']} not supported")
        start, end = info["data_offsets"]
        array = np.frombuffer(data[base + start:base + end], dtype=np.float32).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


# ---- WordPiece tokenizer from tokenizer.json (BertNormalizer + BertPreTokenizer + WordPiece) --------------
class WordPiece:
    def __init__(self, spec):
        model = spec["model"]
        self.vocab = model["vocab"]
        self.unk = self.vocab[model.get("unk_token", "[UNK]")]
        self.prefix = model.get("continuing_subword_prefix", "##")
        self.max_chars = model.get("max_input_chars_per_word", 100)
        norm = spec.get("normalizer") or {}
        self.lowercase = norm.get("lowercase", True)
        strip = norm.get("strip_accents")
        self.strip_accents = self.lowercase if strip is None else strip
        self.cls, self.sep, self.pad = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab.get("[PAD]", 0)

    @staticmethod
    def _is_punct(ch):
        cp = ord(ch)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(ch).startswith("P")

    def _normalize(self, text):
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r"):
                continue
            if ch in "\t\n\r" or unicodedata.category(ch) == "Zs":
                out.append(" ")
            elif 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF:
                out.append(f" {ch} ")
            else:
                out.append(ch)
        text = "".join(out)
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        return text.lower() if self.lowercase else text

    def _words(self, text):
        for chunk in text.split():
            word = ""
            for ch in chunk:
                if self._is_punct(ch):
                    if word:
                        yield word
                    word = ""
                    yield ch
                else:
                    word += ch
            if word:
                yield word

    def tokenize(self, text):
        ids = []
        for word in self._words(self._normalize(text)):
            if len(word) > self.max_chars:
                ids.append(self.unk)
                continue
            start, pieces = 0, []
            while start < len(word):
                end, found = len(word), None
                while start < end:
                    piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                    if piece in self.vocab:
                        found = self.vocab[piece]
                        break
                    end -= 1
                if found is None:
                    pieces = [self.unk]
                    break
                pieces.append(found)
                start = end
            ids.extend(pieces)
        return ids

    def build(self, text, max_length):
        return [self.cls] + self.tokenize(text)[: max(0, max_length - 2)] + [self.sep]


# ---- BERT for sequence classification, parameter names as Hugging Face's --------------------------------
class Embeddings(nn.Module):
    def __init__(s, c):
        super().__init__()
        h = c["hidden_size"]
        s.word_embeddings = nn.Embedding(c["vocab_size"], h)
        s.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        s.token_type_embeddings = nn.Embedding(c.get("type_vocab_size", 2), h)
        s.LayerNorm = nn.LayerNorm(h, eps=c.get("layer_norm_eps", 1e-12))

    def forward(s, ids):
        pos = torch.arange(ids.shape[1])
        x = s.word_embeddings(ids) + s.position_embeddings(pos)[None] + s.token_type_embeddings.weight[0]
        return s.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(s, c):
        super().__init__()
        h = c["hidden_size"]
        s.heads, s.size = c["num_attention_heads"], h // c["num_attention_heads"]
        s.query, s.key, s.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)

    def forward(s, x, mask):
        b, n, h = x.shape
        split = lambda t: t.view(b, n, s.heads, s.size).transpose(1, 2)  # noqa: E731
        q, k, v = split(s.query(x)), split(s.key(x)), split(s.value(x))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(s.size) + mask, dim=-1)
        return (probs @ v).transpose(1, 2).reshape(b, n, h)


class DenseNorm(nn.Module):
    def __init__(s, n_in, h, eps):
        super().__init__()
        s.dense, s.LayerNorm = nn.Linear(n_in, h), nn.LayerNorm(h, eps=eps)

    def forward(s, x, residual):
        return s.LayerNorm(s.dense(x) + residual)


class Attention(nn.Module):
    def __init__(s, c):
        super().__init__()
        setattr(s, "self", SelfAttention(c))
        s.output = DenseNorm(c["hidden_size"], c["hidden_size"], c.get("layer_norm_eps", 1e-12))

    def forward(s, x, mask):
        return s.output(getattr(s, "self")(x, mask), x)


class Intermediate(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])
        s.act = nn.GELU(approximate="tanh" if c.get("hidden_act") in ("gelu_new", "gelu_pytorch_tanh") else "none")

    def forward(s, x):
        return s.act(s.dense(x))


class Layer(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.attention, s.intermediate = Attention(c), Intermediate(c)
        s.output = DenseNorm(c["intermediate_size"], c["hidden_size"], c.get("layer_norm_eps", 1e-12))

    def forward(s, x, mask):
        a = s.attention(x, mask)
        return s.output(s.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])


class Pooler(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.dense = nn.Linear(c["hidden_size"], c["hidden_size"])


class BertModel(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.embeddings, s.encoder, s.pooler = Embeddings(c), Encoder(c), Pooler(c)


class Classifier(nn.Module):
    def __init__(s, c, labels):
        super().__init__()
        s.bert, s.classifier = BertModel(c), nn.Linear(c["hidden_size"], labels)

    def forward(s, ids, attention):
        mask = (1.0 - attention[:, None, None, :].float()) * -1e9
        x = s.bert.embeddings(ids)
        for layer in s.bert.encoder.layer:
            x = layer(x, mask)
        pooled = torch.tanh(s.bert.pooler.dense(x[:, 0]))
        return s.classifier(pooled)


# ---- dynamic batching --------------------------------------------------------------------------------------
class Pending:
    __slots__ = ("rows", "result", "done")

    def __init__(self, rows):
        self.rows, self.result, self.done = rows, None, threading.Event()


class Batcher(threading.Thread):
    def __init__(self, model, pad, budget, delay_ms):
        super().__init__(daemon=True)
        self.model, self.pad, self.budget, self.delay = model, pad, budget, delay_ms / 1000
        self.queue = queue.Queue()
        self.carry = []

    def run(self):
        while True:
            first = self.carry.pop(0) if self.carry else self.queue.get()
            taken, longest = [first], max(len(r) for r in first.rows)
            deadline = time.monotonic() + self.delay
            rows = len(first.rows)
            while rows * longest < self.budget:
                if self.carry:
                    nxt = self.carry.pop(0)
                else:
                    try:
                        nxt = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break
                length = max(longest, max(len(r) for r in nxt.rows))
                if (rows + len(nxt.rows)) * length > self.budget:
                    self.carry.insert(0, nxt)
                    break
                taken.append(nxt)
                rows += len(nxt.rows)
                longest = length
            self.forward(taken, longest)

    def forward(self, taken, longest):
        all_rows = [r for p in taken for r in p.rows]
        ids = torch.full((len(all_rows), longest), self.pad, dtype=torch.long)
        att = torch.zeros((len(all_rows), longest), dtype=torch.long)
        for i, r in enumerate(all_rows):
            ids[i, : len(r)] = torch.tensor(r)
            att[i, : len(r)] = 1
        with torch.inference_mode():
            probs = torch.softmax(self.model(ids, att), dim=-1).numpy()
        offset = 0
        for p in taken:
            p.result = probs[offset: offset + len(p.rows)]
            offset += len(p.rows)
            p.done.set()


def main():
    args = sys.argv[1:]
    folder = args[0]
    opt = lambda name, default: type(default)(args[args.index(name) + 1]) if name in args else default  # noqa: E731
    port, threads = opt("--port", 0), opt("--threads", 2)
    budget, delay = opt("--max-batch-tokens", 8192), opt("--max-queue-delay-ms", 2.0)
    torch.set_num_threads(threads)
    config = json.load(open(os.path.join(folder, "config.json")))
    id2label = config.get("id2label") or {}
    labels = [id2label[str(i)] for i in range(len(id2label))]
    tokenizer = WordPiece(json.load(open(os.path.join(folder, "tokenizer.json"))))
    model = Classifier(config, len(labels))
    state = read_safetensors(os.path.join(folder, "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    unexpected = [k for k in unexpected if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"weights do not match: missing {missing}, unexpected {unexpected}")
    model.eval()
    max_positions = config["max_position_embeddings"]
    batcher = Batcher(model, tokenizer.pad, budget, delay)
    batcher.start()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def setup(self):
            super().setup()
            # headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            inputs = body["inputs"]
            texts = [inputs] if isinstance(inputs, str) else inputs
            max_length = min((body.get("parameters") or {}).get("max_length", max_positions), max_positions)
            pending = Pending([tokenizer.build(t, max_length) for t in texts])
            batcher.queue.put(pending)
            pending.done.wait()
            out = []
            for p in pending.result:
                ranked = sorted(range(len(labels)), key=lambda i: (-p[i], i))
                out.append([{"label": labels[i], "score": float(p[i])} for i in ranked])
            data = json.dumps(out[0] if isinstance(inputs, str) else out).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(json.dumps({"ready": True, "port": server.server_address[1], "torch": torch.__version__,
                      "threads": torch.get_num_threads(),
                      "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
