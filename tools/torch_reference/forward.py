"""Forward-pass goldens for edgetune's model families (tests/fixtures/golden/forward_<family>/): small RANDOM
BERT, RoBERTa, ELECTRA (embedding_size != hidden_size) and DistilBERT sequence classifiers, each written as a
Hugging Face folder (config.json + model.safetensors, written by the tiny safetensors writer below) plus
expected.json with inputs (ids with padding, attention masks, token types) and the eval-mode logits. The
forward passes are plain torch transcriptions of transformers' modeling_bert / modeling_roberta /
modeling_electra / modeling_distilbert (v4.40) in eval mode (`transformers` is not installed here);
tests/core/parity_forward_test.ts loads the folders with edgetune and compares logits.
Run: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tools/torch_reference/forward.py"""

import json
import math
import os
import struct

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "golden")
torch.set_num_threads(1)

LABELS = ["neg", "neu", "pos"]
COMMON = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 48, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
          "initializer_range": 0.02}
CONFIGS = {
    "bert": {**COMMON, "architectures": ["BertForSequenceClassification"], "model_type": "bert",
             "hidden_act": "gelu", "max_position_embeddings": 40, "type_vocab_size": 2,
             "layer_norm_eps": 1e-12, "pad_token_id": 0},
    "roberta": {**COMMON, "architectures": ["RobertaForSequenceClassification"], "model_type": "roberta",
                "hidden_act": "gelu", "max_position_embeddings": 42, "type_vocab_size": 1,
                "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2},
    "electra": {**COMMON, "architectures": ["ElectraForSequenceClassification"], "model_type": "electra",
                "embedding_size": 16, "hidden_act": "gelu_new", "max_position_embeddings": 40,
                "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0},
    "distilbert": {"architectures": ["DistilBertForSequenceClassification"], "model_type": "distilbert",
                   "vocab_size": 99, "dim": 32, "n_layers": 2, "n_heads": 4, "hidden_dim": 48,
                   "activation": "gelu", "dropout": 0.1, "attention_dropout": 0.1, "seq_classif_dropout": 0.2,
                   "max_position_embeddings": 40, "sinusoidal_pos_embds": False, "initializer_range": 0.02,
                   "pad_token_id": 0},
}
for cfg in CONFIGS.values():
    cfg["id2label"] = {str(i): label for i, label in enumerate(LABELS)}
    cfg["label2id"] = {label: i for i, label in enumerate(LABELS)}

ACT = {
    "gelu": F.gelu,
    "relu": F.relu,
    "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3)))),
}


# ---------------------------------------------------------------- safetensors

def write_safetensors(path, tensors):
    """tensors: ordered dict name -> torch tensor (float32 or int64)."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for data in blobs:
            f.write(data)


# ---------------------------------------------------------------- random weights in the HF layout

def random_state(shapes, gen):
    """Weights far from HF's init (so layout or transposition mistakes show in the logits)."""
    sd = {}
    for name, shape in shapes:
        if "LayerNorm.weight" in name or "layer_norm.weight" in name:
            sd[name] = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            sd[name] = 0.1 * torch.randn(shape, generator=gen)
        elif "embeddings." in name:
            sd[name] = 0.5 * torch.randn(shape, generator=gen)
        else:
            sd[name] = 0.25 * torch.randn(shape, generator=gen)
    return sd


def encoder_shapes(cfg, prefix):
    h, i = cfg["hidden_size"], cfg["intermediate_size"]
    e = cfg.get("embedding_size", h)
    out = [(f"{prefix}.embeddings.word_embeddings.weight", (cfg["vocab_size"], e)),
           (f"{prefix}.embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], e)),
           (f"{prefix}.embeddings.token_type_embeddings.weight", (cfg["type_vocab_size"], e)),
           (f"{prefix}.embeddings.LayerNorm.weight", (e,)), (f"{prefix}.embeddings.LayerNorm.bias", (e,))]
    if e != h:
        out += [(f"{prefix}.embeddings_project.weight", (h, e)), (f"{prefix}.embeddings_project.bias", (h,))]
    for n in range(cfg["num_hidden_layers"]):
        p = f"{prefix}.encoder.layer.{n}"
        for lin, o, k in [("attention.self.query", h, h), ("attention.self.key", h, h),
                          ("attention.self.value", h, h), ("attention.output.dense", h, h),
                          ("intermediate.dense", i, h), ("output.dense", h, i)]:
            out += [(f"{p}.{lin}.weight", (o, k)), (f"{p}.{lin}.bias", (o,))]
            if lin in ("attention.output.dense", "output.dense"):
                norm = lin.replace("dense", "LayerNorm")
                out += [(f"{p}.{norm}.weight", (h,)), (f"{p}.{norm}.bias", (h,))]
    return out


def head_shapes(family, cfg, n):
    h = cfg.get("hidden_size", cfg.get("dim"))
    if family == "bert":
        return [("bert.pooler.dense.weight", (h, h)), ("bert.pooler.dense.bias", (h,)),
                ("classifier.weight", (n, h)), ("classifier.bias", (n,))]
    if family in ("roberta", "electra"):
        return [("classifier.dense.weight", (h, h)), ("classifier.dense.bias", (h,)),
                ("classifier.out_proj.weight", (n, h)), ("classifier.out_proj.bias", (n,))]
    return [("pre_classifier.weight", (h, h)), ("pre_classifier.bias", (h,)),
            ("classifier.weight", (n, h)), ("classifier.bias", (n,))]


def distilbert_shapes(cfg):
    d, f = cfg["dim"], cfg["hidden_dim"]
    out = [("distilbert.embeddings.word_embeddings.weight", (cfg["vocab_size"], d)),
           ("distilbert.embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], d)),
           ("distilbert.embeddings.LayerNorm.weight", (d,)), ("distilbert.embeddings.LayerNorm.bias", (d,))]
    for n in range(cfg["n_layers"]):
        p = f"distilbert.transformer.layer.{n}"
        for lin in ("q_lin", "k_lin", "v_lin", "out_lin"):
            out += [(f"{p}.attention.{lin}.weight", (d, d)), (f"{p}.attention.{lin}.bias", (d,))]
        out += [(f"{p}.sa_layer_norm.weight", (d,)), (f"{p}.sa_layer_norm.bias", (d,)),
                (f"{p}.ffn.lin1.weight", (f, d)), (f"{p}.ffn.lin1.bias", (f,)),
                (f"{p}.ffn.lin2.weight", (d, f)), (f"{p}.ffn.lin2.bias", (d,)),
                (f"{p}.output_layer_norm.weight", (d,)), (f"{p}.output_layer_norm.bias", (d,))]
    return out


# ---------------------------------------------------------------- forward passes (eval mode)

def linear(sd, name, x):
    return F.linear(x, sd[f"{name}.weight"], sd[f"{name}.bias"])


def layer_norm(sd, name, x, eps):
    return F.layer_norm(x, (x.shape[-1],), sd[f"{name}.weight"], sd[f"{name}.bias"], eps)


def split_heads(x, heads):
    b, s, h = x.shape
    return x.view(b, s, heads, h // heads).permute(0, 2, 1, 3)


def bert_encoder(sd, prefix, cfg, hidden, attention_mask):
    """BertEncoder: modeling_bert's get_extended_attention_mask + BertLayer × N."""
    heads, eps, act = cfg["num_attention_heads"], cfg["layer_norm_eps"], ACT[cfg["hidden_act"]]
    ext = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
    head_size = cfg["hidden_size"] // heads
    for n in range(cfg["num_hidden_layers"]):
        p = f"{prefix}.encoder.layer.{n}"
        q, k, v = (split_heads(linear(sd, f"{p}.attention.self.{m}", hidden), heads) for m in ("query", "key", "value"))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(head_size) + ext
        context = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).flatten(2)
        attn = layer_norm(sd, f"{p}.attention.output.LayerNorm", linear(sd, f"{p}.attention.output.dense", context) + hidden, eps)
        inter = act(linear(sd, f"{p}.intermediate.dense", attn))
        hidden = layer_norm(sd, f"{p}.output.LayerNorm", linear(sd, f"{p}.output.dense", inter) + attn, eps)
    return hidden


def bert_embeddings(sd, prefix, cfg, ids, types, positions):
    e = sd[f"{prefix}.embeddings.word_embeddings.weight"][ids] + \
        sd[f"{prefix}.embeddings.token_type_embeddings.weight"][types] + \
        sd[f"{prefix}.embeddings.position_embeddings.weight"][positions]
    e = layer_norm(sd, f"{prefix}.embeddings.LayerNorm", e, cfg["layer_norm_eps"])
    if f"{prefix}.embeddings_project.weight" in sd:  # ElectraModel.embeddings_project
        e = linear(sd, f"{prefix}.embeddings_project", e)
    return e


def forward(family, cfg, sd, ids, mask, types):
    b, s = ids.shape
    if family == "bert":
        positions = torch.arange(s).expand(b, s)
        h = bert_encoder(sd, "bert", cfg, bert_embeddings(sd, "bert", cfg, ids, types, positions), mask)
        pooled = torch.tanh(linear(sd, "bert.pooler.dense", h[:, 0]))
        return linear(sd, "classifier", pooled)
    if family in ("roberta", "electra"):
        if family == "roberta":  # create_position_ids_from_input_ids
            pad = cfg["pad_token_id"]
            not_pad = ids.ne(pad).int()
            positions = (torch.cumsum(not_pad, dim=1).type_as(not_pad) * not_pad).long() + pad
        else:
            positions = torch.arange(s).expand(b, s)
        h = bert_encoder(sd, family, cfg, bert_embeddings(sd, family, cfg, ids, types, positions), mask)
        x = linear(sd, "classifier.dense", h[:, 0])  # Roberta/ElectraClassificationHead
        x = torch.tanh(x) if family == "roberta" else F.gelu(x)
        return linear(sd, "classifier.out_proj", x)
    # DistilBERT
    d, heads = cfg["dim"], cfg["n_heads"]
    x = sd["distilbert.embeddings.word_embeddings.weight"][ids] + \
        sd["distilbert.embeddings.position_embeddings.weight"][torch.arange(s)][None]
    x = layer_norm(sd, "distilbert.embeddings.LayerNorm", x, 1e-12)
    for n in range(cfg["n_layers"]):
        p = f"distilbert.transformer.layer.{n}"
        q = split_heads(linear(sd, f"{p}.attention.q_lin", x), heads) / math.sqrt(d // heads)
        k = split_heads(linear(sd, f"{p}.attention.k_lin", x), heads)
        v = split_heads(linear(sd, f"{p}.attention.v_lin", x), heads)
        scores = torch.matmul(q, k.transpose(2, 3))
        scores = scores.masked_fill((mask == 0)[:, None, None, :].expand_as(scores), torch.finfo(torch.float32).min)
        context = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).flatten(2)
        sa = layer_norm(sd, f"{p}.sa_layer_norm", linear(sd, f"{p}.attention.out_lin", context) + x, 1e-12)
        ffn = linear(sd, f"{p}.ffn.lin2", ACT[cfg["activation"]](linear(sd, f"{p}.ffn.lin1", sa)))
        x = layer_norm(sd, f"{p}.output_layer_norm", ffn + sa, 1e-12)
    return linear(sd, "classifier", F.relu(linear(sd, "pre_classifier", x[:, 0])))


# ---------------------------------------------------------------- inputs and files

def make_inputs(family, cfg, gen):
    lengths, s = [10, 7, 3], 10
    pad = cfg["pad_token_id"]
    ids = torch.full((len(lengths), s), pad, dtype=torch.long)
    mask = torch.zeros((len(lengths), s), dtype=torch.long)
    types = torch.zeros((len(lengths), s), dtype=torch.long)
    for r, n in enumerate(lengths):
        ids[r, :n] = torch.randint(5, cfg["vocab_size"], (n,), generator=gen)
        mask[r, :n] = 1
        if family in ("bert", "electra") and n > 4:
            types[r, n // 2:n] = 1  # a second segment
    return ids, mask, types


def main():
    for index, (family, cfg) in enumerate(CONFIGS.items()):
        gen = torch.Generator().manual_seed(1000 + index)
        prefix_shapes = distilbert_shapes(cfg) if family == "distilbert" else encoder_shapes(cfg, family)
        shapes = prefix_shapes + head_shapes(family, cfg, len(LABELS))
        sd = random_state(shapes, gen)
        ids, mask, types = make_inputs(family, cfg, gen)
        with torch.no_grad():
            logits = forward(family, cfg, sd, ids, mask, types)
            logits64 = forward(family, cfg, {k: v.double() for k, v in sd.items()}, ids, mask, types)
        folder = os.path.join(OUT, f"forward_{family}")
        os.makedirs(folder, exist_ok=True)
        tensors = dict(sd)
        if family in ("bert", "roberta"):  # a buffer old HF checkpoints carry: the loader must skip it
            tensors[f"{family}.embeddings.position_ids"] = torch.arange(cfg["max_position_embeddings"])[None]
        write_safetensors(os.path.join(folder, "model.safetensors"), tensors)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        expected = {
            "family": family,
            "torch": torch.__version__,
            "input_ids": ids.tolist(),
            "attention_mask": mask.tolist(),
            "token_type_ids": types.tolist(),
            "logits": logits.tolist(),
            "float64_vs_float32_max_abs": float((logits.double() - logits64).abs().max()),
        }
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump(expected, f, indent=1)
        print(family, "logits", [[round(v, 4) for v in row] for row in logits.tolist()],
              "f32/f64 gap", expected["float64_vs_float32_max_abs"])


if __name__ == "__main__":
    main()
