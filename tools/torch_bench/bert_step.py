"""PyTorch side of `deno task bench train`: the same BertForSequenceClassification fine-tuning step as
edgetune's (4 encoder layers, exact-erf GELU, dropout on, softmax cross-entropy, torch.optim.AdamW with
weight decay 0.01 except biases and LayerNorm), loaded with the exact initial weights and batches the
TypeScript side wrote (weights.bin/json, batches.bin/json; see bench/support/bert_step.ts). Runs with Debian's
python3-torch at its best on this CPU: OPENBLAS_CORETYPE chosen from /proc/cpuinfo before torch loads, and
torch threads = --threads. Prints one JSON object: per-step times, examples/s (median), inference
predictions/s, peak RSS, first-step loss and eval logits of the first batch (for a parity check).

Usage: /usr/bin/python3 tools/torch_bench/bert_step.py DIR [--steps N] [--warmup N] [--threads N] [--serve]
With --serve it loads once, prints {"ready": ...}, then answers one JSON line per command read from stdin:
"train" (one timed training step), "infer" (one timed inference batch), "threads N" (torch.set_num_threads),
"stats" (peak RSS, first eval logits), "quit" — so the caller can interleave PyTorch steps with its own,
step by step, and find the thread count at which PyTorch is fastest.
"""
import json
import math
import os
import resource
import statistics
import sys
import time


def choose_core_type():
    """Best OpenBLAS core type the CPU supports (a wrong one would crash with an illegal instruction)."""
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
    if "avx" in flags:
        return "Sandybridge"
    return None


if "OPENBLAS_CORETYPE" not in os.environ and choose_core_type():
    os.environ["OPENBLAS_CORETYPE"] = choose_core_type()

import numpy as np  # noqa: E402  (after OPENBLAS_CORETYPE on purpose)
import torch  # noqa: E402
from torch import nn  # noqa: E402


class Embeddings(nn.Module):
    def __init__(s, vocab, hidden, max_pos, types):
        super().__init__()
        s.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=0)
        s.position_embeddings = nn.Embedding(max_pos, hidden)
        s.token_type_embeddings = nn.Embedding(types, hidden)
        s.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        s.dropout = nn.Dropout(0.1)

    def forward(s, ids, types):
        pos = torch.arange(ids.shape[1])
        x = s.word_embeddings(ids) + s.token_type_embeddings(types) + s.position_embeddings(pos)[None]
        return s.dropout(s.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(s, hidden, heads):
        super().__init__()
        s.heads, s.head_size = heads, hidden // heads
        s.query, s.key, s.value = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        s.dropout = nn.Dropout(0.1)

    def forward(s, x, mask):
        b, n, h = x.shape
        split = lambda t: t.view(b, n, s.heads, s.head_size).transpose(1, 2)  # noqa: E731
        q, k, v = split(s.query(x)), split(s.key(x)), split(s.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(s.head_size) + mask
        probs = s.dropout(torch.softmax(scores, dim=-1))
        return (probs @ v).transpose(1, 2).reshape(b, n, h)


class DenseResidualNorm(nn.Module):
    def __init__(s, inp, hidden):
        super().__init__()
        s.dense = nn.Linear(inp, hidden)
        s.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        s.dropout = nn.Dropout(0.1)

    def forward(s, x, residual):
        return s.LayerNorm(s.dropout(s.dense(x)) + residual)


class Attention(nn.Module):
    def __init__(s, hidden, heads):
        super().__init__()
        s.self = SelfAttention(hidden, heads)
        s.output = DenseResidualNorm(hidden, hidden)

    def forward(s, x, mask):
        return s.output(s.self(x, mask), x)


class Intermediate(nn.Module):
    def __init__(s, hidden, ffn):
        super().__init__()
        s.dense = nn.Linear(hidden, ffn)

    def forward(s, x):
        return nn.functional.gelu(s.dense(x))


class Layer(nn.Module):
    def __init__(s, hidden, heads, ffn):
        super().__init__()
        s.attention = Attention(hidden, heads)
        s.intermediate = Intermediate(hidden, ffn)
        s.output = DenseResidualNorm(ffn, hidden)

    def forward(s, x, mask):
        a = s.attention(x, mask)
        return s.output(s.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(s, layers, hidden, heads, ffn):
        super().__init__()
        s.layer = nn.ModuleList([Layer(hidden, heads, ffn) for _ in range(layers)])


class Pooler(nn.Module):
    def __init__(s, hidden):
        super().__init__()
        s.dense = nn.Linear(hidden, hidden)


class Bert(nn.Module):
    def __init__(s, shape, max_pos):
        super().__init__()
        h = shape["hidden"]
        s.embeddings = Embeddings(shape["vocab"], h, max_pos, 2)
        s.encoder = Encoder(shape["layers"], h, shape["heads"], shape["ffn"])
        s.pooler = Pooler(h)


class BertForSequenceClassification(nn.Module):
    """Parameter names match Hugging Face's (and edgetune's) so the weights load by name, strictly."""

    def __init__(s, shape, num_labels, max_pos):
        super().__init__()
        s.bert = Bert(shape, max_pos)
        s.dropout = nn.Dropout(0.1)
        s.classifier = nn.Linear(shape["hidden"], num_labels)

    def forward(s, ids, mask, types):
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = s.bert.embeddings(ids, types)
        for layer in s.bert.encoder.layer:
            x = layer(x, ext)
        pooled = torch.tanh(s.bert.pooler.dense(x[:, 0]))
        return s.classifier(s.dropout(pooled))


def peak_rss_mb():
    """VmHWM of this process; ru_maxrss is not used because Linux carries it over from the parent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(directory):
    with open(os.path.join(directory, "weights.json")) as f:
        meta = json.load(f)
    shape, manifest = meta["shape"], meta["manifest"]
    flat = np.fromfile(os.path.join(directory, "weights.bin"), dtype="<f4")
    max_pos = next(m["shape"][0] for m in manifest if m["name"].endswith("position_embeddings.weight"))
    model = BertForSequenceClassification(shape, meta["numLabels"], max_pos)
    state = {}
    for m in manifest:
        size = int(np.prod(m["shape"]))
        state[m["name"]] = torch.from_numpy(flat[m["offset"]:m["offset"] + size].reshape(m["shape"]).copy())
    model.load_state_dict(state, strict=True)
    with open(os.path.join(directory, "batches.json")) as f:
        count = json.load(f)["count"]
    ints = np.fromfile(os.path.join(directory, "batches.bin"), dtype="<i4")
    b, n = shape["batch"], shape["seq"]
    per = 3 * b * n + b
    batches = []
    for i in range(count):
        chunk = ints[i * per:(i + 1) * per]
        t = lambda a: torch.from_numpy(a.astype(np.int64))  # noqa: E731
        batches.append((t(chunk[:b * n].reshape(b, n)), t(chunk[b * n:2 * b * n].reshape(b, n)),
                        t(chunk[2 * b * n:3 * b * n].reshape(b, n)), t(chunk[3 * b * n:])))
    return shape, model, batches


class Runner:
    """The model, optimizer and batches, with one timed training step or inference batch per call."""

    def __init__(s, directory, threads):
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        s.shape, s.model, s.batches = load(directory)
        s.model.eval()
        with torch.no_grad():
            ids, mask, types, _ = s.batches[0]
            s.eval_logits = s.model(ids, mask, types).flatten().tolist()
        decay = [p for n, p in s.model.named_parameters() if not (n.endswith(".bias") or "LayerNorm." in n)]
        no_decay = [p for n, p in s.model.named_parameters() if n.endswith(".bias") or "LayerNorm." in n]
        s.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                         {"params": no_decay, "weight_decay": 0.0}], lr=5e-5, eps=1e-8)
        s.loss_fn = nn.CrossEntropyLoss()
        s.train_calls = 0
        s.infer_calls = 0

    def train(s):
        s.model.train()
        ids, mask, types, labels = s.batches[s.train_calls % len(s.batches)]
        s.train_calls += 1
        t0 = time.perf_counter()
        s.optimizer.zero_grad(set_to_none=True)
        loss = s.loss_fn(s.model(ids, mask, types), labels)
        loss.backward()
        s.optimizer.step()
        return {"ms": (time.perf_counter() - t0) * 1000, "loss": float(loss)}

    def infer(s):
        s.model.eval()
        ids, mask, types, _ = s.batches[s.infer_calls % len(s.batches)]
        s.infer_calls += 1
        t0 = time.perf_counter()
        with torch.no_grad():
            s.model(ids, mask, types)
        return {"ms": (time.perf_counter() - t0) * 1000}

    def stats(s):
        return {"torch": torch.__version__, "threads": torch.get_num_threads(),
                "openblasCoretype": os.environ.get("OPENBLAS_CORETYPE"), "peakRssMb": peak_rss_mb(),
                "evalLogits": s.eval_logits}


def serve(runner):
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command.startswith("threads "):
            torch.set_num_threads(int(command.split()[1]))
            print(json.dumps({"threads": torch.get_num_threads()}), flush=True)
            continue
        handler = {"train": runner.train, "infer": runner.infer, "stats": runner.stats}.get(command)
        reply = handler() if handler else {"error": f"unknown command {command!r}"}
        print(json.dumps(reply), flush=True)


def main():
    args = sys.argv[1:]
    opt = lambda name, default: int(args[args.index(name) + 1]) if name in args else default  # noqa: E731
    runner = Runner(args[0], opt("--threads", 2))
    if "--serve" in args:
        serve(runner)
        return
    steps, warmup, infer_runs = opt("--steps", 3), opt("--warmup", 1), opt("--infer", 5)
    runner.infer()
    infer_ms = [runner.infer()["ms"] for _ in range(infer_runs)]
    results = [runner.train() for _ in range(warmup + steps)]
    step_ms = [r["ms"] for r in results[warmup:]]
    median = statistics.median(step_ms)
    print(json.dumps({
        **runner.stats(),
        "stepMs": step_ms,
        "medianStepMs": median,
        "examplesPerSecond": runner.shape["batch"] * 1000 / median,
        "inferMs": infer_ms,
        "predictionsPerSecond": runner.shape["batch"] * 1000 / statistics.median(infer_ms),
        "losses": [r["loss"] for r in results],
    }))


if __name__ == "__main__":
    main()
