"""Writes the PyTorch goldens edgetune's optimization math is tested against (tests/fixtures/golden/*.json):
schedules.json (every schedule's LR at steps 0..N through torch's LambdaLR/CyclicLR/ExponentialLR, and
ReduceLROnPlateau LRs for metric sequences) and train_<scenario>.json (30 steps of a tiny named-parameter
model — embeddings with a LayerNorm, 4 tanh "encoder" layers, a classifier — trained with torch.optim.AdamW,
SGD, the LAMB in lamb.py, torch clipping and schedulers: per-step losses, LRs, grad norms, initial and final
weights, data). Run: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tools/torch_reference/make_goldens.py"""

import json
import math
import os
import re
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedules  # noqa: E402
from lamb import Lamb  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "golden")
torch.set_num_threads(1)

# ---------------------------------------------------------------- schedules

BASE_LR = 1e-3
TOTAL = 100
STEPS = 121  # 0..120: past the end too

SCHEDULE_CASES = [
    {"name": "constant"},
    {"name": "constant_with_warmup", "warmupSteps": 10},
    {"name": "linear", "warmupSteps": 10},
    {"name": "linear", "warmupSteps": 0},
    {"name": "cosine", "warmupSteps": 10},
    {"name": "cosine", "warmupSteps": 10, "numCycles": 2},
    {"name": "cosine", "warmupSteps": 10, "minLrRatio": 0.1},
    {"name": "cosine", "warmupSteps": 5, "hardRestarts": True, "numCycles": 3},
    {"name": "cosine", "warmupSteps": 5, "hardRestarts": True, "numCycles": 2, "minLrRatio": 0.05},
    {"name": "exponential", "warmupSteps": 5, "gamma": 0.97},
    {"name": "polynomial", "warmupSteps": 10},
    {"name": "polynomial", "warmupSteps": 10, "power": 2.0, "lrEnd": 1e-5},
    {"name": "inverse_sqrt", "warmupSteps": 10},
    {"name": "inverse_sqrt", "warmupSteps": 0},
    {"name": "inverse_sqrt", "warmupSteps": 10, "timescale": 50},
    {"name": "cyclic", "minLr": 1e-4, "stepSizeUp": 10},
    {"name": "cyclic", "minLr": 1e-4, "maxLr": 5e-3, "stepSizeUp": 7, "stepSizeDown": 13, "mode": "triangular2"},
    {"name": "cyclic", "minLr": 1e-4, "stepSizeUp": 8, "mode": "exp_range", "gamma": 0.99},
]


def dummy_optimizer(lr):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def torch_scheduler(spec, opt, base_lr, total):
    if spec["name"] == "cyclic":
        return torch.optim.lr_scheduler.CyclicLR(
            opt,
            base_lr=spec["minLr"],
            max_lr=spec.get("maxLr", base_lr),
            step_size_up=spec["stepSizeUp"],
            step_size_down=spec.get("stepSizeDown"),
            mode=spec.get("mode", "triangular"),
            gamma=spec.get("gamma", 1.0),
            cycle_momentum=False,
        )
    return torch.optim.lr_scheduler.LambdaLR(opt, schedules.lambda_for(spec, base_lr, total))


def lrs_of(opt, sched, n):
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def schedule_goldens():
    cases = []
    for spec in SCHEDULE_CASES:
        opt = dummy_optimizer(BASE_LR)
        cases.append({"spec": spec, "lrs": lrs_of(opt, torch_scheduler(spec, opt, BASE_LR, TOTAL), STEPS)})
    # exponential without warm-up must equal torch's own ExponentialLR
    opt = dummy_optimizer(BASE_LR)
    cases.append({
        "spec": {"name": "exponential", "warmupSteps": 0, "gamma": 0.95},
        "lrs": lrs_of(opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.95), STEPS),
    })
    metrics_down_then_flat = [1.0, 0.9, 0.85, 0.85, 0.86, 0.849, 0.9, 0.95, 0.84, 0.84, 0.84, 0.84, 0.84, 0.84, 0.84]
    metrics_up_then_flat = [0.5, 0.6, 0.6, 0.61, 0.605, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    plateau_cases = [
        ({"mode": "min", "factor": 0.5, "patience": 1}, metrics_down_then_flat),
        ({"mode": "min", "factor": 0.1, "patience": 0, "threshold": 0.02, "thresholdMode": "abs", "cooldown": 2,
          "minLr": 2e-6}, metrics_down_then_flat),
        ({"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.01, "thresholdMode": "rel", "cooldown": 1},
         metrics_up_then_flat),
        ({"mode": "max", "factor": 0.2, "patience": 0, "thresholdMode": "abs", "threshold": 0.0, "minLr": 1e-4},
         metrics_up_then_flat),
    ]
    plateau = []
    for options, metrics in plateau_cases:
        opt = dummy_optimizer(BASE_LR)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt,
            mode=options["mode"],
            factor=options["factor"],
            patience=options["patience"],
            threshold=options.get("threshold", 1e-4),
            threshold_mode=options.get("thresholdMode", "rel"),
            cooldown=options.get("cooldown", 0),
            min_lr=options.get("minLr", 0.0),
        )
        lrs = []
        for m in metrics:
            sched.step(m)
            lrs.append(opt.param_groups[0]["lr"])
        plateau.append({"options": options, "metrics": metrics, "lrs": lrs})
    return {"baseLr": BASE_LR, "totalSteps": TOTAL, "cases": cases, "plateau": plateau}


# ---------------------------------------------------------------- tiny model training

NUM_LAYERS, HIDDEN, FEATURES, CLASSES, SAMPLES, BATCH, TRAIN_STEPS = 4, 8, 4, 3, 32, 8, 30


def initial_model():
    g = torch.Generator().manual_seed(1234)

    def rnd(*shape, scale):
        return (torch.randn(*shape, generator=g) * scale).float()

    params = {"embeddings.proj.weight": rnd(FEATURES, HIDDEN, scale=0.6),
              "embeddings.LayerNorm.weight": 1.0 + rnd(HIDDEN, scale=0.1),
              "embeddings.LayerNorm.bias": rnd(HIDDEN, scale=0.1)}
    for i in range(NUM_LAYERS):
        params[f"encoder.layer.{i}.dense.weight"] = rnd(HIDDEN, HIDDEN, scale=0.45)
        params[f"encoder.layer.{i}.dense.bias"] = rnd(HIDDEN, scale=0.1)
    params["classifier.weight"] = rnd(HIDDEN, CLASSES, scale=0.5)
    params["classifier.bias"] = rnd(CLASSES, scale=0.1)
    x = rnd(SAMPLES, FEATURES, scale=1.0)
    teacher = rnd(FEATURES, CLASSES, scale=1.0)
    y = (x @ teacher).argmax(dim=1)  # learnable labels from a random linear teacher
    return params, x, y


def forward_loss(p, x, y):
    h = x @ p["embeddings.proj.weight"]
    h = F.layer_norm(h, (HIDDEN,), p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], eps=1e-5)
    for i in range(NUM_LAYERS):
        h = torch.tanh(h @ p[f"encoder.layer.{i}.dense.weight"] + p[f"encoder.layer.{i}.dense.bias"])
    logits = h @ p["classifier.weight"] + p["classifier.bias"]
    return F.cross_entropy(logits, y)


def layer_of(name):
    if name.startswith("embeddings."):
        return 0
    m = re.match(r"encoder\.layer\.(\d+)\.", name)
    return int(m.group(1)) + 1 if m else NUM_LAYERS + 1


def group_settings(name, groups, base_lr):
    """(frozen, lr_scale, weight_decay) — written from the rule documented in param_groups.ts."""
    layer = layer_of(name)
    frozen = (layer == 0 and groups.get("freezeEmbeddings", False)) or (1 <= layer <= groups.get("freezeLayers", 0))
    scale = groups.get("layerLrDecay", 1.0) ** max(0, NUM_LAYERS - layer)
    key = "embeddings" if layer == 0 else "head" if layer == NUM_LAYERS + 1 else f"layer.{layer - 1}"
    mult = groups.get("lrMultipliers", {})
    if key in mult:
        scale = mult[key]
    elif key.startswith("layer.") and "encoder" in mult:
        scale = mult["encoder"]
    if key in groups.get("lrOverrides", {}):
        scale = groups["lrOverrides"][key] / base_lr
    no_decay = name.endswith(".bias") or "LayerNorm." in name
    return frozen, scale, 0.0 if no_decay else groups["weightDecay"]


def make_optimizer(spec, torch_groups):
    if spec["name"] == "adamw":
        return torch.optim.AdamW(torch_groups, betas=(spec["beta1"], spec["beta2"]), eps=spec["epsilon"])
    if spec["name"] == "lamb":
        return Lamb(torch_groups, betas=(spec["beta1"], spec["beta2"]), eps=spec["epsilon"])
    return torch.optim.SGD(torch_groups, lr=1.0, momentum=spec["momentum"], nesterov=spec["nesterov"],
                           dampening=spec.get("dampening", 0.0))


def train(config):
    init, x, y = initial_model()
    base_lr, total = config["baseLr"], TRAIN_STEPS
    params = {n: torch.nn.Parameter(t.clone()) for n, t in init.items()}
    torch_groups, scales = [], []
    for name, p in params.items():
        frozen, scale, wd = group_settings(name, config["groups"], base_lr)
        if frozen:
            p.requires_grad_(False)
            continue
        torch_groups.append({"params": [p], "lr": base_lr * scale, "weight_decay": wd})
        scales.append(scale)
    opt = make_optimizer(config["optimizer"], torch_groups)
    spec = config["schedule"]
    if spec["name"] == "cyclic":
        max_lr = spec.get("maxLr", base_lr)
        sched = torch.optim.lr_scheduler.CyclicLR(
            opt, base_lr=[spec["minLr"] * s for s in scales], max_lr=[max_lr * s for s in scales],
            step_size_up=spec["stepSizeUp"], step_size_down=spec.get("stepSizeDown"),
            mode=spec.get("mode", "triangular"), gamma=spec.get("gamma", 1.0), cycle_momentum=False)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedules.lambda_for(spec, base_lr, total))
    trainable = [p for p in params.values() if p.requires_grad]
    losses, lrs, norms = [], [], []
    for step in range(TRAIN_STEPS):
        b = step % (SAMPLES // BATCH)
        lrs.append(opt.param_groups[-1]["lr"] / scales[-1])  # the scheduled base LR
        opt.zero_grad(set_to_none=True)
        loss = forward_loss(params, x[b * BATCH:(b + 1) * BATCH], y[b * BATCH:(b + 1) * BATCH])
        loss.backward()
        clip = config.get("clip") or {}
        if "maxNorm" in clip:
            norms.append(float(torch.nn.utils.clip_grad_norm_(trainable, clip["maxNorm"])))
        if "maxValue" in clip:
            torch.nn.utils.clip_grad_value_(trainable, clip["maxValue"])
        opt.step()
        sched.step()
        losses.append(float(loss))
    as_json = lambda d: {n: {"shape": list(t.shape), "data": t.detach().reshape(-1).tolist()} for n, t in d.items()}
    return {
        **config,
        "model": {"numLayers": NUM_LAYERS, "hidden": HIDDEN, "classes": CLASSES, "batchSize": BATCH,
                  "steps": TRAIN_STEPS, "layerNormEps": 1e-5},
        "data": {"x": {"shape": list(x.shape), "data": x.reshape(-1).tolist()}, "y": y.tolist()},
        "initial": as_json(init),
        "losses": losses,
        "lrs": lrs,
        "gradNorms": norms,
        "final": as_json(params),
    }


ADAM = {"name": "adamw", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
TRAIN_CASES = {
    "adamw_linear_clip": {"optimizer": ADAM, "baseLr": 0.02, "schedule": {"name": "linear", "warmupSteps": 5},
                          "clip": {"maxNorm": 0.5}, "groups": {"weightDecay": 0.01}},
    "lamb_cosine": {"optimizer": {"name": "lamb", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-6}, "baseLr": 0.02,
                    "schedule": {"name": "cosine", "warmupSteps": 3, "minLrRatio": 0.1},
                    "clip": {"maxNorm": 1.0}, "groups": {"weightDecay": 0.01}},
    "sgd_nesterov_cyclic": {"optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True}, "baseLr": 0.1,
                            "schedule": {"name": "cyclic", "minLr": 0.01, "stepSizeUp": 5, "stepSizeDown": 7,
                                         "mode": "triangular2"},
                            "clip": {"maxValue": 0.5}, "groups": {"weightDecay": 0.001}},
    "sgd_dampening_polynomial": {"optimizer": {"name": "sgd", "momentum": 0.8, "nesterov": False, "dampening": 0.3},
                                 "baseLr": 0.05, "schedule": {"name": "polynomial", "warmupSteps": 2, "power": 2.0},
                                 "clip": None, "groups": {"weightDecay": 0.01}},
    "adamw_llrd_frozen": {"optimizer": ADAM, "baseLr": 0.01, "schedule": {"name": "constant_with_warmup",
                                                                          "warmupSteps": 4},
                          "clip": {"maxNorm": 1.0},
                          "groups": {"weightDecay": 0.01, "layerLrDecay": 0.7, "freezeLayers": 2,
                                     "lrMultipliers": {"head": 1.5}}},
}


def main():
    os.makedirs(OUT, exist_ok=True)
    outputs = {"schedules.json": schedule_goldens()}
    for name, config in TRAIN_CASES.items():
        outputs[f"train_{name}.json"] = train(config)
    for file, content in outputs.items():
        path = os.path.join(OUT, file)
        with open(path, "w") as f:
            json.dump(content, f, separators=(",", ":"))
            f.write("\n")
        print(f"{path}: {os.path.getsize(path)} bytes")
    for name in TRAIN_CASES:
        losses = outputs[f"train_{name}.json"]["losses"]
        assert all(math.isfinite(v) for v in losses), name
        print(f"{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
