"""LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning", Algorithm 2, with Adam bias
correction) as a torch.optim.Optimizer: the reference edgetune's TypeScript LAMB is checked against.
Per parameter: m, v as Adam; r = m_hat / (sqrt(v_hat) + eps); u = r + wd * p; trust = ||p|| / ||u||, or 1
when either norm is 0 (phi = identity); p <- p - lr * trust * u. Trust ratio applies to every parameter."""

import torch


class Lamb(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                ratio = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + group["eps"])
                update = ratio + group["weight_decay"] * p if group["weight_decay"] != 0 else ratio
                w_norm = p.norm()
                u_norm = update.norm()
                trust = torch.where(
                    (w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm)
                )
                p.sub_(update * (trust * group["lr"]))
