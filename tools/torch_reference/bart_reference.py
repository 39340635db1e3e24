"""Parity goldens for edgetune's BART-family encoder-decoders (tests/fixtures/golden/{bart,marian}_*): small
RANDOM MBartForConditionalGeneration and MarianMTModel weights in the HF layout (config.json +
model.safetensors), a padded source/target batch with its teacher-forced decoder logits, and greedy decodes.
The forward passes are plain torch transcriptions of transformers' modeling_mbart (pre-norm: LayerNorm before
attention/FFN, layernorm_embedding, final encoder/decoder layer_norm, learned positions with offset 2) and
modeling_marian (post-norm, fixed sinusoidal positions with sin in the first half of each row and cos in the
second) in eval mode: q scaled by head_dim^-0.5, causal + padding decoder mask (torch.finfo.min), tied lm_head
plus final_logits_bias (`transformers` is not installed here).
Run: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tools/torch_reference/bart_reference.py"""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "golden")
torch.set_num_threads(1)
MIN = torch.finfo(torch.float32).min

COMMON = {"vocab_size": 100, "d_model": 32, "encoder_layers": 2, "decoder_layers": 2,
          "encoder_attention_heads": 4, "decoder_attention_heads": 4, "encoder_ffn_dim": 64,
          "decoder_ffn_dim": 64, "max_position_embeddings": 64, "dropout": 0.1, "attention_dropout": 0.0,
          "activation_dropout": 0.0, "init_std": 0.02, "is_encoder_decoder": True}
CONFIGS = {
    "bart": {**COMMON, "architectures": ["MBartForConditionalGeneration"], "model_type": "mbart",
             "activation_function": "gelu", "scale_embedding": True, "pad_token_id": 1, "bos_token_id": 0,
             "eos_token_id": 2, "decoder_start_token_id": 2, "forced_bos_token_id": 7},
    "marian": {**COMMON, "architectures": ["MarianMTModel"], "model_type": "marian",
               "activation_function": "swish", "scale_embedding": True, "pad_token_id": 99, "bos_token_id": 0,
               "eos_token_id": 0, "decoder_start_token_id": 99, "share_encoder_decoder_embeddings": True},
}

ACT = {
    "gelu": F.gelu,
    "relu": F.relu,
    "swish": F.silu,
    "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3)))),
}


def marian_sinusoidal(n_pos, dim):
    """MarianSinusoidalPositionalEmbedding._init_weight (numpy float64, then float32)."""
    enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.zeros(n_pos, dim)
    sentinel = dim // 2 if dim % 2 == 0 else dim // 2 + 1
    out[:, 0:sentinel] = torch.FloatTensor(np.sin(enc[:, 0::2]))
    out[:, sentinel:] = torch.FloatTensor(np.cos(enc[:, 1::2]))
    return out


def shapes(cfg):
    d, v, pre = cfg["d_model"], cfg["vocab_size"], cfg["model_type"] == "mbart"
    out = [("model.shared.weight", (v, d))]
    for side in ("encoder", "decoder"):
        positions = cfg["max_position_embeddings"] + (2 if pre else 0)
        out.append((f"model.{side}.embed_positions.weight", (positions, d)))
        if pre:
            out += [(f"model.{side}.layernorm_embedding.weight", (d,)),
                    (f"model.{side}.layernorm_embedding.bias", (d,))]
        ffn = cfg[f"{side}_ffn_dim"]
        for n in range(cfg[f"{side}_layers"]):
            p = f"model.{side}.layers.{n}"
            attns = ["self_attn"] + (["encoder_attn"] if side == "decoder" else [])
            for attn in attns:
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    out += [(f"{p}.{attn}.{proj}.weight", (d, d)), (f"{p}.{attn}.{proj}.bias", (d,))]
                out += [(f"{p}.{attn}_layer_norm.weight", (d,)), (f"{p}.{attn}_layer_norm.bias", (d,))]
            out += [(f"{p}.fc1.weight", (ffn, d)), (f"{p}.fc1.bias", (ffn,)),
                    (f"{p}.fc2.weight", (d, ffn)), (f"{p}.fc2.bias", (d,)),
                    (f"{p}.final_layer_norm.weight", (d,)), (f"{p}.final_layer_norm.bias", (d,))]
        if pre:
            out += [(f"model.{side}.layer_norm.weight", (d,)), (f"model.{side}.layer_norm.bias", (d,))]
    out.append(("final_logits_bias", (1, v)))
    return out


def random_state(cfg, gen):
    """Weights far from HF's init, so layout mistakes show in the logits; Marian's positions are sinusoidal."""
    sd = {}
    for name, shape in shapes(cfg):
        if name.endswith("embed_positions.weight") and cfg["model_type"] == "marian":
            sd[name] = marian_sinusoidal(*shape)
        elif "norm" in name and name.endswith(".weight"):
            sd[name] = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        elif name.endswith(".bias") or name == "final_logits_bias":
            sd[name] = 0.1 * torch.randn(shape, generator=gen)
        elif "embed" in name or "shared" in name:
            sd[name] = 0.5 * torch.randn(shape, generator=gen)
        else:
            sd[name] = 0.25 * torch.randn(shape, generator=gen)
    return sd


def write_half_safetensors(path, sd):
    """Weights stored as F16 (fixture size); the reference runs on the same values read back as float32."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in sd.items():
        data = t.contiguous().half().numpy().tobytes()
        header[name] = {"dtype": "F16", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for data in blobs:
            f.write(data)


def linear(sd, name, x):
    return F.linear(x, sd[f"{name}.weight"], sd[f"{name}.bias"])


def norm(sd, name, x):
    return F.layer_norm(x, (x.shape[-1],), sd[f"{name}.weight"], sd[f"{name}.bias"], 1e-5)


def attention(sd, p, hidden, kv, mask, heads):
    """MBartAttention / MarianAttention (eager): q_proj * head_dim^-0.5, additive mask, out_proj."""
    b, t, d = hidden.shape
    s = kv.shape[1]
    hd = d // heads
    q = (linear(sd, f"{p}.q_proj", hidden) * hd ** -0.5).view(b, t, heads, hd).transpose(1, 2)
    k = linear(sd, f"{p}.k_proj", kv).view(b, s, heads, hd).transpose(1, 2)
    v = linear(sd, f"{p}.v_proj", kv).view(b, s, heads, hd).transpose(1, 2)
    w = F.softmax(torch.matmul(q, k.transpose(2, 3)) + mask, dim=-1)
    return linear(sd, f"{p}.out_proj", torch.matmul(w, v).transpose(1, 2).reshape(b, t, d))


def padding_mask(mask, t):
    """_prepare_4d_attention_mask: [B, S] → [B, 1, T, S] additive."""
    return (1.0 - mask[:, None, None, :].float()).expand(-1, 1, t, -1) * MIN


def causal_mask(mask):
    """_prepare_4d_causal_attention_mask: future or padding keys → finfo.min (masked_fill, not summed)."""
    b, t = mask.shape
    future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)[None, None]
    blocked = future | (mask[:, None, None, :] == 0)
    return torch.zeros(b, 1, t, t).masked_fill(blocked, MIN)


def embed(sd, cfg, side, ids, past=0):
    scale = math.sqrt(cfg["d_model"]) if cfg["scale_embedding"] else 1.0
    offset = 2 if cfg["model_type"] == "mbart" else 0
    positions = torch.arange(past, past + ids.shape[1]) + offset
    h = sd["model.shared.weight"][ids] * scale + sd[f"model.{side}.embed_positions.weight"][positions][None]
    if cfg["model_type"] == "mbart":
        h = norm(sd, f"model.{side}.layernorm_embedding", h)
    return h


def ffn(sd, cfg, p, h):
    return linear(sd, f"{p}.fc2", ACT[cfg["activation_function"]](linear(sd, f"{p}.fc1", h)))


def encoder(sd, cfg, ids, mask):
    pre, heads = cfg["model_type"] == "mbart", cfg["encoder_attention_heads"]
    h = embed(sd, cfg, "encoder", ids)
    ext = padding_mask(mask, ids.shape[1])
    for n in range(cfg["encoder_layers"]):
        p = f"model.encoder.layers.{n}"
        if pre:  # MBartEncoderLayer
            h = h + attention(sd, f"{p}.self_attn", norm(sd, f"{p}.self_attn_layer_norm", h),
                              norm(sd, f"{p}.self_attn_layer_norm", h), ext, heads)
            h = h + ffn(sd, cfg, p, norm(sd, f"{p}.final_layer_norm", h))
        else:  # MarianEncoderLayer
            h = norm(sd, f"{p}.self_attn_layer_norm", h + attention(sd, f"{p}.self_attn", h, h, ext, heads))
            h = norm(sd, f"{p}.final_layer_norm", h + ffn(sd, cfg, p, h))
    return norm(sd, "model.encoder.layer_norm", h) if pre else h


def decoder_logits(sd, cfg, enc, enc_mask, dec_ids, dec_mask):
    pre, heads = cfg["model_type"] == "mbart", cfg["decoder_attention_heads"]
    h = embed(sd, cfg, "decoder", dec_ids)
    self_mask = causal_mask(dec_mask)
    cross_mask = padding_mask(enc_mask, dec_ids.shape[1])
    for n in range(cfg["decoder_layers"]):
        p = f"model.decoder.layers.{n}"
        if pre:  # MBartDecoderLayer
            x = norm(sd, f"{p}.self_attn_layer_norm", h)
            h = h + attention(sd, f"{p}.self_attn", x, x, self_mask, heads)
            h = h + attention(sd, f"{p}.encoder_attn", norm(sd, f"{p}.encoder_attn_layer_norm", h), enc,
                              cross_mask, heads)
            h = h + ffn(sd, cfg, p, norm(sd, f"{p}.final_layer_norm", h))
        else:  # MarianDecoderLayer
            h = norm(sd, f"{p}.self_attn_layer_norm", h + attention(sd, f"{p}.self_attn", h, h, self_mask, heads))
            h = norm(sd, f"{p}.encoder_attn_layer_norm",
                     h + attention(sd, f"{p}.encoder_attn", h, enc, cross_mask, heads))
            h = norm(sd, f"{p}.final_layer_norm", h + ffn(sd, cfg, p, h))
    if pre:
        h = norm(sd, "model.decoder.layer_norm", h)
    return F.linear(h, sd["model.shared.weight"]) + sd["final_logits_bias"]


def greedy(sd, cfg, src_ids, max_new):
    """Greedy decode of one unpadded source row by full recompute; forced_bos_token_id as first token."""
    ids = torch.tensor([src_ids])
    enc = encoder(sd, cfg, ids, torch.ones_like(ids))
    out, margin = [cfg["decoder_start_token_id"]], math.inf
    for step in range(max_new):
        dec = torch.tensor([out])
        logits = decoder_logits(sd, cfg, enc, torch.ones_like(ids), dec, torch.ones_like(dec))[0, -1]
        token = int(logits.argmax())
        top = torch.topk(logits, 2).values
        margin = min(margin, float(top[0] - top[1]))
        if step == 0 and cfg.get("forced_bos_token_id") is not None:
            token = cfg["forced_bos_token_id"]
        out.append(token)
        if token == cfg["eos_token_id"]:
            break
    return out, margin


def padded(rows, pad, width):
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        ids[r, :len(row)] = torch.tensor(row)
        mask[r, :len(row)] = 1
    return ids, mask


def main():
    for index, (name, cfg) in enumerate(CONFIGS.items()):
        gen = torch.Generator().manual_seed(2024 + index)
        sd = {k: v if "embed_positions" in k and name == "marian" else v.half().float()
              for k, v in random_state(cfg, gen).items()}
        rand_row = lambda n: torch.randint(3, 90, (n,), generator=gen).tolist()  # noqa: E731
        eos, start = cfg["eos_token_id"], cfg["decoder_start_token_id"]
        sources = [rand_row(8) + [eos], rand_row(5) + [eos], rand_row(2) + [eos]]
        targets = [[start] + rand_row(6), [start] + rand_row(3), [start] + rand_row(4)]
        src_ids, src_mask = padded(sources, cfg["pad_token_id"], 9)
        dec_ids, dec_mask = padded(targets, cfg["pad_token_id"], 7)
        with torch.no_grad():
            logits = decoder_logits(sd, cfg, encoder(sd, cfg, src_ids, src_mask), src_mask, dec_ids, dec_mask)
            sd64 = {k: v.double() for k, v in sd.items()}
            enc64 = encoder(sd64, cfg, src_ids, src_mask)
            logits64 = decoder_logits(sd64, cfg, enc64, src_mask, dec_ids, dec_mask)
            decodes, margins = zip(*[greedy(sd, cfg, row, 12) for row in sources])
        folder = os.path.join(OUT, f"{name}_tiny")
        os.makedirs(folder, exist_ok=True)
        # Marian's sinusoidal tables are left out: the loader must rebuild them (HF recomputes them too).
        stored = {k: v for k, v in sd.items() if not (name == "marian" and "embed_positions" in k)}
        write_half_safetensors(os.path.join(folder, "model.safetensors"), stored)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        expected = {
            "model_type": cfg["model_type"],
            "torch": torch.__version__,
            "input_ids": src_ids.tolist(),
            "attention_mask": src_mask.tolist(),
            "decoder_input_ids": dec_ids.tolist(),
            "decoder_attention_mask": dec_mask.tolist(),
            "logits": [[round(v, 6) for v in row] for row in logits.reshape(-1, cfg["vocab_size"]).tolist()],
            "float64_vs_float32_max_abs": float((logits.double() - logits64).abs().max()),
            "greedy_sources": sources,
            "greedy_max_new_tokens": 12,
            "greedy_tokens": list(decodes),
            "greedy_min_top2_margin": min(margins),
        }
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump(expected, f, separators=(",", ":"))
        print(name, "f32/f64 gap", expected["float64_vs_float32_max_abs"], "greedy", decodes, "min top-2 margin", min(margins))


if __name__ == "__main__":
    main()
