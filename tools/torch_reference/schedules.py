"""LR-schedule multipliers written after transformers' optimization.py (v4.40; the package is not installed
here, so the lambdas are transcribed, each citing the function it copies). Each returns lr_lambda(step) for
torch.optim.lr_scheduler.LambdaLR, so the goldens also pin PyTorch's step indexing. Cyclic and
ReduceLROnPlateau use torch's own schedulers (see make_goldens.py)."""

import math


def constant():
    # transformers.get_constant_schedule
    return lambda step: 1.0


def constant_with_warmup(warmup):
    # transformers.optimization._get_constant_schedule_with_warmup_lr_lambda
    def f(step):
        if step < warmup:
            return float(step) / float(max(1.0, warmup))
        return 1.0

    return f


def linear(warmup, total):
    # transformers.optimization._get_linear_schedule_with_warmup_lr_lambda
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))

    return f


def cosine(warmup, total, num_cycles=0.5, min_lr_rate=0.0):
    # transformers.optimization._get_cosine_schedule_with_warmup_lr_lambda (min_lr_rate as in
    # _get_cosine_schedule_with_min_lr_lambda: factor * (1 - min_lr_rate) + min_lr_rate)
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
        return max(0.0, factor * (1 - min_lr_rate) + min_lr_rate)

    return f


def cosine_hard_restarts(warmup, total, num_cycles=1, min_lr_rate=0.0):
    # transformers.optimization._get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda; edgetune adds
    # the same min_lr_rate floor as the cosine above (r + (1 - r) * factor, also after the last cycle)
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        if progress >= 1.0:
            factor = 0.0
        else:
            factor = 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress) % 1.0)))
        return max(0.0, factor * (1 - min_lr_rate) + min_lr_rate)

    return f


def polynomial(warmup, total, lr_init, lr_end=1e-7, power=1.0):
    # transformers.optimization._get_polynomial_decay_schedule_with_warmup_lr_lambda
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        elif step > total:
            return lr_end / lr_init
        lr_range = lr_init - lr_end
        decay_steps = total - warmup
        pct_remaining = 1 - (step - warmup) / decay_steps
        decay = lr_range * pct_remaining**power + lr_end
        return decay / lr_init

    return f


def inverse_sqrt(warmup, timescale=None):
    # transformers.optimization._get_inverse_sqrt_schedule_lr_lambda (timescale default as
    # get_inverse_sqrt_schedule: num_warmup_steps or 10_000)
    if timescale is None:
        timescale = warmup or 10_000

    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        shift = timescale - warmup
        return 1.0 / math.sqrt((step + shift) / timescale)

    return f


def exponential(warmup, gamma):
    # edgetune's own: linear warm-up, then torch ExponentialLR's gamma ** (steps since warm-up)
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return gamma ** (step - warmup)

    return f


def lambda_for(spec, base_lr, total):
    """The multiplier for an edgetune ScheduleSpec (the dict the TS tests read back)."""
    name = spec["name"]
    w = spec.get("warmupSteps", 0)
    if name == "constant":
        return constant()
    if name == "constant_with_warmup":
        return constant_with_warmup(w)
    if name == "linear":
        return linear(w, total)
    if name == "cosine":
        r = spec.get("minLrRatio", 0.0)
        if spec.get("hardRestarts", False):
            return cosine_hard_restarts(w, total, spec.get("numCycles", 1), r)
        return cosine(w, total, spec.get("numCycles", 0.5), r)
    if name == "polynomial":
        return polynomial(w, total, base_lr, spec.get("lrEnd", 1e-7), spec.get("power", 1.0))
    if name == "inverse_sqrt":
        return inverse_sqrt(w, spec.get("timescale"))
    if name == "exponential":
        return exponential(w, spec["gamma"])
    raise ValueError(f"no lambda for schedule {name}")
