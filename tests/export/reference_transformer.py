"""models/transformer.mdl written by hand in plain torch.nn, independently of mdlc's export.

A GPT in the style of nanoGPT (token and position embeddings, pre-LayerNorm blocks of causal
self-attention and a GELU MLP, a head tied to the token embedding), trained with
torch.optim.AdamW under minGPT's weight-decay rule (the weights of nn.Linear decay; biases,
LayerNorms and embeddings do not), clip_grad_norm_, and the README's warmup_cosine schedule.
tests/export/reference.test.ts feeds it mdlc's initial weights and mdlc's batches and compares
its losses with mdlc's interpreter and WebGPU backend.

How mdlc's parameters (name [axes], row-major) map onto this module:

  wte [vocab, embed]                     tok_emb.weight; the head computes x @ tok_emb.weight.T
  wpe [seq, embed]                       pos_emb.weight
  blocks.i.layernorm.g / .b [embed]      blocks[i].ln_1.weight / .bias
  blocks.i.attention.wq [embed, heads, head]
                                         blocks[i].attn.query.weight = wq.reshape(embed, heads * head).T
                                         (nn.Linear stores [out, in]; out features are (head h, dim d) at h * head + d)
  blocks.i.attention.wk, .wv             blocks[i].attn.key.weight, .value.weight, the same way
  blocks.i.attention.wo [heads, head, embed]
                                         blocks[i].attn.proj.weight = wo.reshape(heads * head, embed).T
  blocks.i.layernorm_2.g / .b [embed]    blocks[i].ln_2.weight / .bias
  blocks.i.mlp.w1 [embed, hidden], b1    blocks[i].mlp.fc.weight = w1.T, blocks[i].mlp.fc.bias = b1
  blocks.i.mlp.w2 [hidden, embed], b2    blocks[i].mlp.proj.weight = w2.T, blocks[i].mlp.proj.bias = b2
  layernorm.g / .b [embed]               ln_f.weight / .bias

Usage: python reference_transformer.py CONFIG.json   (see main() for the keys)
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, head_size):
        super().__init__()
        self.n_head, self.head_size = n_head, head_size
        self.query = nn.Linear(n_embd, n_head * head_size, bias=False)
        self.key = nn.Linear(n_embd, n_head * head_size, bias=False)
        self.value = nn.Linear(n_embd, n_head * head_size, bias=False)
        self.proj = nn.Linear(n_head * head_size, n_embd, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        q = self.query(x).view(B, T, self.n_head, self.head_size).transpose(1, 2)  # (B, nh, T, hs)
        k = self.key(x).view(B, T, self.n_head, self.head_size).transpose(1, 2)
        v = self.value(x).view(B, T, self.n_head, self.head_size).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_size))
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        att = att.masked_fill(~causal, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, self.n_head * self.head_size)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, n_embd, hidden):
        super().__init__()
        self.fc = nn.Linear(n_embd, hidden)
        self.proj = nn.Linear(hidden, n_embd)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, head_size, hidden):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, eps=1e-5)
        self.attn = CausalSelfAttention(n_embd, n_head, head_size)
        self.ln_2 = nn.LayerNorm(n_embd, eps=1e-5)
        self.mlp = MLP(n_embd, hidden)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab, block_size, n_layer, n_embd, n_head, hidden):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, n_embd // n_head, hidden) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd, eps=1e-5)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T))
        for block in self.blocks:
            x = block(x)
        logits = self.ln_f(x) @ self.tok_emb.weight.T  # weight tying
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))

    def configure_optimizer(self, lr, betas, eps, weight_decay):
        """minGPT's rule: nn.Linear weights decay; biases, LayerNorm and Embedding weights do not."""
        decay, no_decay = [], []
        for module in self.modules():
            for name, p in module.named_parameters(recurse=False):
                (decay if isinstance(module, nn.Linear) and name == "weight" else no_decay).append(p)
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def read_safetensors(path):
    """name → float32 tensor of a safetensors file (8-byte header length, JSON header, raw data)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F32", entry
        start, end = entry["data_offsets"]
        out[name] = torch.frombuffer(bytearray(blob[8 + n + start : 8 + n + end]), dtype=torch.float32).reshape(entry["shape"])
    return out


def load_mdlc_weights(model, w, n_layer, n_embd, n_head, head_size):
    """Copy mdlc's parameters into the model by the mapping in this file's docstring."""
    with torch.no_grad():
        model.tok_emb.weight.copy_(w["wte"])
        model.pos_emb.weight.copy_(w["wpe"])
        for i, block in enumerate(model.blocks):
            p = f"blocks.{i}."
            block.ln_1.weight.copy_(w[p + "layernorm.g"])
            block.ln_1.bias.copy_(w[p + "layernorm.b"])
            for mine, theirs in [(block.attn.query, "wq"), (block.attn.key, "wk"), (block.attn.value, "wv")]:
                mine.weight.copy_(w[p + "attention." + theirs].reshape(n_embd, n_head * head_size).T)
            block.attn.proj.weight.copy_(w[p + "attention.wo"].reshape(n_head * head_size, n_embd).T)
            block.ln_2.weight.copy_(w[p + "layernorm_2.g"])
            block.ln_2.bias.copy_(w[p + "layernorm_2.b"])
            block.mlp.fc.weight.copy_(w[p + "mlp.w1"].T)
            block.mlp.fc.bias.copy_(w[p + "mlp.b1"])
            block.mlp.proj.weight.copy_(w[p + "mlp.w2"].T)
            block.mlp.proj.bias.copy_(w[p + "mlp.b2"])
        model.ln_f.weight.copy_(w["layernorm.g"])
        model.ln_f.bias.copy_(w["layernorm.b"])


def lr_at(it, lr, min_lr, warmup, steps):
    """The README's warmup_cosine: linear warmup from lr / warmup to lr, then cosine down to min_lr at the last step."""
    if it < warmup:
        return lr * (it + 1) / warmup
    ratio = min(1.0, (it - warmup) / max(1, steps - 1 - warmup))
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def main(config_path):
    c = json.load(open(config_path))
    torch.manual_seed(0)  # the weights come from mdlc; nothing else is random
    head_size = c["embed"] // c["heads"]
    model = GPT(c["vocab"], c["seq"], c["layers"], c["embed"], c["heads"], c["hidden"])
    load_mdlc_weights(model, read_safetensors(c["weights"]), c["layers"], c["embed"], c["heads"], head_size)
    opt = model.configure_optimizer(c["lr"], tuple(c["betas"]), c["eps"], c["weight_decay"])
    with open(c["batches"], "rb") as f:
        raw = f.read()
    windows = torch.tensor(struct.unpack(f"<{len(raw) // 4}i", raw), dtype=torch.long).view(c["steps"], c["batch"], c["seq"] + 1)
    losses, grad_norms = [], []
    for it in range(c["steps"]):
        for group in opt.param_groups:
            group["lr"] = lr_at(it, c["lr"], c["min_lr"], c["warmup"], c["steps"])
        w = windows[it]
        loss = model(w[:, :-1], w[:, 1:])  # tokens = data[0 .. seq], targets = data[1 .. seq + 1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), c["clip"]).item())
        opt.step()
        losses.append(loss.item())
    json.dump({"losses": losses, "grad_norms": grad_norms}, open(c["out"], "w"))


if __name__ == "__main__":
    main(sys.argv[1])
