"""Checks a model exported by edgetune (`GET /v1/models/:id/export`, an uncompressed ustar archive of the HF
folder) against the PyTorch reference: reads the archive with Python's tarfile, loads config.json and
model.safetensors (own reader, no `safetensors` package needed), runs forward.py's transcription of the
family's HF forward pass on the inputs in --inputs (the JSON edgetune wrote: input_ids, attention_mask,
token_type_ids, logits) and prints the max abs difference to edgetune's logits. When `transformers` is
installed (it is not on the team machine) it also loads the extracted folder with
AutoModelForSequenceClassification.from_pretrained and compares its logits too — the "transformers loads it
as is" check.
Run: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tools/torch_reference/forward_check_export.py model.tar --inputs in.json"""

import argparse
import io
import json
import os
import struct
import sys
import tarfile
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward as reference  # noqa: E402


def read_safetensors(data):
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out, base = {}, 8 + n
    for name, entry in header.items():
        dtype = {"F32": torch.float32, "I64": torch.int64}[entry["dtype"]]
        begin, end = entry["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + begin:base + end]), dtype=dtype)
        out[name] = t.reshape(entry["shape"])
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("archive")
    parser.add_argument("--inputs", required=True, help="JSON with input_ids, attention_mask, token_type_ids, logits")
    args = parser.parse_args()
    raw = open(args.archive, "rb").read()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:  # uncompressed, as edgetune writes it
        members = {m.name.split("/", 1)[-1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    print("ustar magic:", raw[257:265] == b"ustar\x0000", "files:", sorted(members))
    cfg = json.loads(members["config.json"])
    sd = read_safetensors(members["model.safetensors"])
    inputs = json.load(open(args.inputs))
    ids = torch.tensor(inputs["input_ids"])
    mask = torch.tensor(inputs["attention_mask"])
    types = torch.tensor(inputs["token_type_ids"])
    family = cfg["model_type"]
    if family != "distilbert":
        cfg = {**{"hidden_act": "gelu", "layer_norm_eps": 1e-12}, **cfg}
    with torch.no_grad():
        logits = reference.forward(family, cfg, sd, ids, mask, types)
    expected = torch.tensor(inputs["logits"])
    print(f"{family}: reference vs edgetune max abs diff {float((logits - expected).abs().max()):.3e}")
    try:
        from transformers import AutoModelForSequenceClassification  # noqa: PLC0415
    except ImportError:
        print("transformers is not installed: skipped the from_pretrained check")
        return
    with tempfile.TemporaryDirectory() as folder:
        for name, data in members.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        kwargs = {"input_ids": ids, "attention_mask": mask}
        if family in ("bert", "electra"):
            kwargs["token_type_ids"] = types
        with torch.no_grad():
            hf = model(**kwargs).logits
        print(f"{family}: transformers vs edgetune max abs diff {float((hf - expected).abs().max()):.3e}")


if __name__ == "__main__":
    main()
