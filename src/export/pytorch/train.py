"""Train the exported model in PyTorch the way `mdlc train` trains it.

Written by `mdlc export --target pytorch`; it needs PyTorch (1.13 or newer) and Python's
standard library, not mdlc. The same recipe trains the same batches as mdlc: the text is
split and tokenised as mdlc does, the windows come from mdlc's random generator
(xoshiro128**, ported below), the initial weights from mdlc's initialisation, and AdamW
gets the .mdl's per-parameter learning rates and weight decay, its schedule and clipping.

  python train.py --data input.txt                        # one process (CPU; --device cuda for a GPU)
  torchrun --nproc_per_node 2 train.py --data input.txt   # N processes with DistributedDataParallel

(torch 1.13 on Python 3.11, as Debian bookworm has it: give torchrun `--redirects 1 --tee 1`,
or it fails with "'NoneType' object has no attribute 'get'", a bug of that pair.)

Under torchrun every process draws the same global batch and trains on its own share of
its rows (gloo on CPUs, NCCL on GPUs); gradients are averaged, so N processes train the
same global batch as one. Runs are written as mdlc writes them: runs/<model>-<time>/ holds
config.json, metrics.jsonl and checkpoints/step-NNNNNNNN/{model,optimizer}.safetensors and
trainer.json. `--resume` continues a run from such a checkpoint (also one `mdlc train`
wrote), `--init-from FILE` starts from a model.safetensors.
"""
import argparse
import array
import json
import math
import os
import shutil
import struct
import sys
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import DIMS, INPUTS, MODEL, MODEL_NAME, PARAM_AXES, PARAM_INIT  # noqa: E402  (model.py sits next to this file)

# ---- recipe (mdlc export writes this part from the .mdl's train section) ----
RECIPE = {}
PARAM_GROUPS = []
# ---- end of recipe ----


# ---- Random numbers: mdlc's generator (runtime/random.ts), bit for bit ----
_M32 = 0xFFFFFFFF


def _mix32(x):
    """splitmix32's finaliser on 32-bit unsigned integers."""
    x = (x + 0x9E3779B9) & _M32
    x = ((x ^ (x >> 16)) * 0x21F0AAAD) & _M32
    x = ((x ^ (x >> 15)) * 0x735A2D97) & _M32
    return x ^ (x >> 15)


def _hash_string(s, h=0x811C9DC5):
    """A 32-bit hash of a string's UTF-16 code units, as JavaScript sees the string."""
    units = s.encode("utf-16-le")
    n = len(units) // 2
    for i in range(n):
        h = _mix32(h ^ (units[2 * i] | units[2 * i + 1] << 8))
    return _mix32(h ^ n)


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & _M32


def _js_xor(a, b):
    """JavaScript's `a ^ b` on numbers: 32-bit signed."""
    v = (a ^ b) & _M32
    return v - (1 << 32) if v >= 1 << 31 else v


class Rng:
    """xoshiro128** seeded through splitmix32; one stream per (seed, name)."""

    def __init__(self, seed, stream=""):
        lo = seed & _M32
        hi = (seed >> 32) & _M32
        x = _mix32(lo ^ _mix32(hi ^ _mix32(_hash_string(stream) ^ _mix32(_hash_string(stream, 0x2545F491)))))
        state = []
        for _ in range(4):
            x = _mix32(x)
            state.append(x)
        if not any(state):
            state[0] = 1
        self.state = state
        self.spare = None

    def next_u32(self):
        s0, s1, s2, s3 = self.state
        r = (_rotl((s1 * 5) & _M32, 7) * 9) & _M32
        t = (s1 << 9) & _M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        self.state = [s0, s1, s2, _rotl(s3, 11)]
        return r

    def uniform(self):
        """A double in [0, 1) with 53 random bits."""
        return ((self.next_u32() >> 5) * 67108864 + (self.next_u32() >> 6)) / 9007199254740992

    def below(self, n):
        """An integer in [0, n)."""
        return math.floor(self.uniform() * n)

    def normal(self):
        """A standard normal draw (Box-Muller; the second value of a pair is kept for the next call)."""
        if self.spare is not None:
            z, self.spare = self.spare, None
            return z
        u1 = 1 - self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2 * math.log(u1))
        theta = 2 * math.pi * u2
        self.spare = r * math.sin(theta)
        return r * math.cos(theta)


# ---- Data: the text, its characters, the split and the windows (runtime/data.ts) ----
class TrainError(Exception):
    """A problem with the data, a checkpoint or the arguments: one line, exit code 1."""


def default_data_path():
    name = RECIPE["data"]["name"]
    if not RECIPE["data"]["named"]:
        return name
    cache = os.environ.get("MDLC_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "mdlc")
    return os.path.join(cache, name + ".txt")


def _read(path, what, hint=""):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise TrainError(f"cannot read {what} {path} ({e.strerror}){hint}") from None


def load_text(path):
    data = _read(path, "data file", "; pass the text with --data FILE")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TrainError(f"data file {path} is not valid UTF-8 text") from None
    if not text:
        raise TrainError(f"data file {path} is empty")
    return text


def encode(text):
    """Token ids of the text's characters in the exported vocabulary (characters sorted by code point)."""
    vocab = list(RECIPE["vocab"])
    chars = sorted(set(text))
    if chars != vocab:
        raise TrainError(
            f"the text has a vocabulary of {len(chars)} characters, but the model was exported for a text with {len(vocab)}; "
            "export again with this text (mdlc export --data FILE)"
        )
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([index[c] for c in text], dtype=torch.long)


def split_tokens(tokens, val_fraction, window):
    """The first (1 - val_fraction) of the tokens train, the rest validate."""
    cut = math.floor(len(tokens) * (1 - val_fraction))
    train, val = tokens[:cut], tokens[cut:]
    if len(train) < window or len(val) < window:
        raise TrainError(f"the text is too short: {len(train)} training and {len(val)} validation characters, windows of {window}")
    return train, val


class WindowSampler:
    """Random windows of `window` consecutive tokens; its state is the number of batches drawn."""

    def __init__(self, tokens, window, seed):
        self.tokens = tokens
        self.window = window
        self.rng = Rng(seed, "windows")
        self.count = len(tokens) - window + 1
        self.drawn = 0

    def starts(self, batch):
        self.drawn += 1
        return [self.rng.below(self.count) for _ in range(batch)]

    def windows(self, starts):
        return torch.stack([self.tokens[s : s + self.window] for s in starts])

    def skip(self, batches, batch):
        for _ in range(batches):
            self.starts(batch)


def model_inputs(windows):
    """The .mdl's window slices (`tokens = data[0 .. seq]`) as the model's inputs, [batch, time] (the checker puts the batch axis first: E0704)."""
    return {name: windows[:, start:end] for name, (start, end) in RECIPE["slices"].items()}


# ---- The schedule (runtime/schedule.ts) ----
def learning_rate_at(step, steps):
    """The base learning rate at 0-based `step` of `steps`."""
    lr = RECIPE["lr"]
    schedule = RECIPE["schedule"]
    if schedule["kind"] == "constant":
        return lr
    warmup, min_lr = schedule["warmup"], schedule["min_lr"]
    if step < warmup:
        return lr * (step + 1) / warmup
    decay_steps = max(1, steps - 1 - warmup)
    progress = min(1, (step - warmup) / decay_steps)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - min_lr)


# ---- Initial weights: mdlc's (runtime/init.ts), one random stream per parameter ----
def mdlc_init(model, seed):
    with torch.no_grad():
        for name, p in model.named_parameters():
            init = PARAM_INIT[name]
            n = p.numel()
            if init[0] == "zeros":
                values = [0.0] * n
            elif init[0] == "ones":
                values = [1.0] * n
            elif init[0] == "normal":
                rng = Rng(seed, name)
                values = [init[2] + init[1] * rng.normal() for _ in range(n)]
            else:
                rng = Rng(seed, name)
                values = [init[1] + (init[2] - init[1]) * rng.uniform() for _ in range(n)]
            # mdlc keeps parameters in float32.
            p.copy_(torch.tensor(values, dtype=torch.float64).to(torch.float32).reshape(p.shape))


# ---- safetensors: a reader and writer of the format (the safetensors package is not needed) ----
# safetensors dtype → (torch dtype, bytes per element, Python array typecode)
_DTYPES = {"F64": (torch.float64, 8, "d"), "F32": (torch.float32, 4, "f"), "I64": (torch.int64, 8, "q"), "I32": (torch.int32, 4, "i")}


def save_safetensors(path, tensors, metadata):
    """Write tensors (name → tensor, in name order) and string metadata atomically (a temporary file, then rename)."""
    if sys.byteorder != "little":
        raise TrainError("writing safetensors needs a little-endian machine")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    names = sorted(tensors)
    codes = {v[0]: k for k, v in _DTYPES.items()}
    header, offset = {"__metadata__": metadata}, 0
    for name in names:
        t = tensors[name]
        if t.dtype not in codes:
            raise TrainError(f"cannot write {t.dtype} tensor {name}")
        size = t.numel() * _DTYPES[codes[t.dtype]][1]
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - (8 + len(head)) % 8) % 8)  # the data starts 8-byte aligned
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for name in names:
            t = tensors[name]
            f.write(array.array(_DTYPES[codes[t.dtype]][2], t.flatten().tolist()).tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_safetensors(path):
    """(name → tensor, metadata) of a safetensors file; a corrupt file is a TrainError."""
    data = _read(path, "checkpoint")
    if len(data) < 8:
        raise TrainError(f"checkpoint {path} is truncated")
    (n,) = struct.unpack("<Q", data[:8])
    if n <= 0 or 8 + n > len(data):
        raise TrainError(f"checkpoint {path} is corrupt (header length {n})")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except ValueError:
        raise TrainError(f"checkpoint {path} is corrupt (its header is not JSON)") from None
    if sys.byteorder != "little":
        raise TrainError("reading safetensors needs a little-endian machine")
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, e in header.items():
        kind = _DTYPES.get(e.get("dtype")) if isinstance(e, dict) else None
        shape, offsets = (e.get("shape"), e.get("data_offsets")) if kind else (None, None)
        if kind is None or not isinstance(shape, list) or not isinstance(offsets, list) or len(offsets) != 2:
            raise TrainError(f"checkpoint {path}: tensor {name} has an unsupported entry")
        start, end = offsets
        size = math.prod(shape) * kind[1]
        if not 0 <= start <= end or 8 + n + end > len(data) or end - start != size:
            raise TrainError(f"checkpoint {path} is corrupt (tensor {name} is out of bounds)")
        raw = data[8 + n + start : 8 + n + end]
        tensors[name] = torch.frombuffer(bytearray(raw), dtype=kind[0]).reshape(shape) if size else torch.zeros(shape, dtype=kind[0])
    return tensors, metadata


def _write_atomic(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---- Checkpoints in mdlc's layout ----
def model_metadata(step):
    with open(os.path.join(HERE, "model.mdl"), encoding="utf-8") as f:
        source = f.read()
    return {
        "format": "mdlc/1",
        "model": MODEL_NAME,
        "model_hash": RECIPE["model_hash"],
        "step": str(step),
        "axes": json.dumps({k: list(v) for k, v in PARAM_AXES.items()}),
        "vocab": json.dumps(list(RECIPE["vocab"]), ensure_ascii=False),
        "source": source,
        "overrides": json.dumps(RECIPE["overrides"]),
    }


def save_checkpoint(run_dir, model, optimizer, trainer, best):
    """checkpoints/step-NNNNNNNN/ written as a temporary folder, fsynced and renamed; `latest` (and `best`) name it."""
    step = trainer["step"]
    folder = os.path.join(run_dir, "checkpoints")
    name = f"step-{step:08d}"
    tmp = os.path.join(folder, f".{name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    params = dict(model.named_parameters())
    save_safetensors(os.path.join(tmp, "model.safetensors"), {k: p.float() for k, p in params.items()}, model_metadata(step))
    state = {}
    for k, p in params.items():
        s = optimizer.state.get(p, {})
        state["m." + k] = s["exp_avg"].float() if "exp_avg" in s else torch.zeros_like(p, dtype=torch.float32)
        state["v." + k] = s["exp_avg_sq"].float() if "exp_avg_sq" in s else torch.zeros_like(p, dtype=torch.float32)
    save_safetensors(os.path.join(tmp, "optimizer.safetensors"), state, {"format": "mdlc/1", "optimizer": "adamw", "step": str(step)})
    _write_atomic(os.path.join(tmp, "trainer.json"), json.dumps(trainer))
    final = os.path.join(folder, name)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    _write_atomic(os.path.join(folder, "latest"), name)
    if best:
        _write_atomic(os.path.join(folder, "best"), name)
    return final


def checkpoint_dir(path):
    """A checkpoint folder from a path: the folder itself, or a run folder's latest checkpoint."""
    if os.path.isfile(os.path.join(path, "model.safetensors")):
        return path
    latest = os.path.join(path, "checkpoints", "latest")
    if os.path.isfile(latest):
        with open(latest, encoding="utf-8") as f:
            return os.path.join(path, "checkpoints", f.read().strip())
    raise TrainError(f"{path} is neither a checkpoint folder (with model.safetensors) nor a run folder (with checkpoints/latest)")


def load_weights(model, path):
    """Copy a model.safetensors into the model; names and shapes must match exactly."""
    tensors, meta = load_safetensors(path)
    params = dict(model.named_parameters())
    missing = sorted(set(params) - set(tensors))
    extra = sorted(set(tensors) - set(params))
    if missing or extra:
        raise TrainError(f"checkpoint {path} does not fit this model: missing {missing[:3]}, unexpected {extra[:3]}")
    for k, p in params.items():
        if tuple(tensors[k].shape) != tuple(p.shape):
            raise TrainError(f"checkpoint {path}: `{k}` has shape {list(tensors[k].shape)}, the model's is {list(p.shape)} {list(PARAM_AXES[k])}")
    if meta.get("model_hash") and meta["model_hash"] != RECIPE["model_hash"]:
        print(f"warning: {path} was written for another version of the model (hash {meta['model_hash'][:12]}…); names and shapes match", file=sys.stderr)
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(tensors[k].to(p.dtype))
    return meta


def load_optimizer(model, optimizer, path, step):
    """AdamW's moments from an optimizer.safetensors (m.NAME, v.NAME), continuing at `step`."""
    tensors, _ = load_safetensors(path)
    for k, p in model.named_parameters():
        if "m." + k not in tensors or "v." + k not in tensors:
            raise TrainError(f"optimizer state {path} has no moments for `{k}`")
        optimizer.state[p] = {
            "step": torch.tensor(float(step)),
            "exp_avg": tensors["m." + k].to(device=p.device, dtype=p.dtype).reshape(p.shape),
            "exp_avg_sq": tensors["v." + k].to(device=p.device, dtype=p.dtype).reshape(p.shape),
        }


# ---- Training ----
class WithLoss(torch.nn.Module):
    """The model and its loss as one module, so that DistributedDataParallel sees every parameter used."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, inputs):
        logits = self.model(*(inputs[name] for name in RECIPE["forward_inputs"]))
        return self.model.loss(logits, *(inputs[name] for name in RECIPE["loss_inputs"]))


def parse_args(argv):
    p = argparse.ArgumentParser(description=f"Train {MODEL_NAME} (exported from mdlc) in PyTorch.")
    p.add_argument("--data", help="the training text (default: the dataset the .mdl names, in mdlc's cache)")
    p.add_argument("--steps", type=int, help=f"training steps (default {RECIPE['steps']}; the schedule ends there)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--run-dir", help="where to write the run (default runs/<model>-<YYYYMMDD-HHMMSS>)")
    p.add_argument("--resume", help="continue from a checkpoint folder, or a run folder's latest checkpoint")
    p.add_argument("--init-from", help="start from the weights of a model.safetensors (step 0, fresh optimizer)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default: eval_every; one at the end)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors (metrics.jsonl has every step)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return train(args, world, rank, device)
    finally:
        if world > 1:
            dist.destroy_process_group()


def train(args, world, rank, device):
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    torch.set_default_dtype(dtype)
    steps = RECIPE["steps"] if args.steps is None else args.steps
    batch, window, seed = RECIPE["batch"], RECIPE["window"], RECIPE["seed"]
    if batch % world:
        raise TrainError(f"the batch of {batch} rows does not split evenly over {world} processes")
    if world > 1 and not RECIPE["rows_independent"]:
        raise TrainError("the model mixes the rows of a batch (or its loss is not their mean), so processes cannot split the batch")
    rows = slice(rank * batch // world, (rank + 1) * batch // world)
    log = (lambda *a: None) if rank != 0 or args.quiet else print

    train_tokens, val_tokens = split_tokens(encode(load_text(args.data or default_data_path())), RECIPE["val_fraction"], window)
    model = MODEL().to(device)
    start, best_val, trainer_in = 0, None, None
    if args.resume:
        folder = checkpoint_dir(args.resume)
        load_weights(model, os.path.join(folder, "model.safetensors"))
        with open(os.path.join(folder, "trainer.json"), encoding="utf-8") as f:
            trainer_in = json.load(f)
        start, best_val = trainer_in["step"], trainer_in.get("best_val_loss")
    elif args.init_from:
        load_weights(model, args.init_from)
    else:
        mdlc_init(model, seed)

    params = dict(model.named_parameters())
    groups = [{"params": [params[n] for n in g["params"]], "weight_decay": g["weight_decay"], "lr": RECIPE["lr"]} for g in PARAM_GROUPS]
    betas = (RECIPE["betas"][0], RECIPE["betas"][1])
    optimizer = torch.optim.AdamW(groups, lr=RECIPE["lr"], betas=betas, eps=RECIPE["eps"])
    if args.resume:
        load_optimizer(model, optimizer, os.path.join(folder, "optimizer.safetensors"), start)
    step_model = WithLoss(model)
    if world > 1:
        step_model = DistributedDataParallel(step_model, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False)

    sampler = WindowSampler(train_tokens, window, seed)
    if trainer_in:
        sampler.skip(trainer_in["batches_drawn"], batch)

    run_dir = args.run_dir or os.path.join("runs", f"{MODEL_NAME}-{time.strftime('%Y%m%d-%H%M%S')}")
    if rank == 0:
        os.makedirs(run_dir, exist_ok=True)
        if os.path.abspath(run_dir) != HERE:
            shutil.copyfile(os.path.join(HERE, "model.mdl"), os.path.join(run_dir, "model.mdl"))
        config = {"model": MODEL_NAME, "dims": DIMS, "overrides": RECIPE["overrides"], "backend": "pytorch", "device": str(device), "processes": world, "dtype": args.dtype, "torch": torch.__version__, "model_hash": RECIPE["model_hash"], "steps": steps}
        _write_atomic(os.path.join(run_dir, "config.json"), json.dumps(config, indent=2))
        metrics = open(os.path.join(run_dir, "metrics.jsonl"), "a", encoding="utf-8")
    log(f"training {MODEL_NAME} in PyTorch {torch.__version__} on {world} × {device} ({args.dtype}): batch {batch} × window {window}, steps {start + 1}–{steps}")

    def record(entry):
        if rank == 0:
            metrics.write(json.dumps(entry) + "\n")
            metrics.flush()

    def mean_over_processes(x):
        x = x.detach().to(torch.float64)
        if world > 1:
            dist.all_reduce(x)
            x /= world
        return x.item()

    def val_loss():
        """Mean loss over eval_batches batches of validation windows (the same windows every time)."""
        sampler_val = WindowSampler(val_tokens, window, _js_xor(seed, 0x5EED))
        model.eval()
        total = 0.0
        with torch.no_grad():
            for _ in range(RECIPE["eval_batches"]):
                w = sampler_val.windows(sampler_val.starts(batch))[rows].to(device)
                total += mean_over_processes(WithLoss(model)(model_inputs(w)))
        model.train()
        return total / RECIPE["eval_batches"]

    every = args.checkpoint_every or RECIPE["eval_every"]
    tokens_per_row = next(iter(RECIPE["slices"].values()))
    tokens_per_step = batch * (tokens_per_row[1] - tokens_per_row[0])
    elapsed = trainer_in.get("elapsed_s", 0.0) if trainer_in else 0.0
    last = float("nan")
    for t in range(start, steps):
        began = time.perf_counter()
        base = learning_rate_at(t, steps)
        for group, spec in zip(optimizer.param_groups, PARAM_GROUPS):
            group["lr"] = spec["lr"](base)
        windows = sampler.windows(sampler.starts(batch))[rows].to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = step_model(model_inputs(windows))
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), RECIPE["clip"] if RECIPE["clip"] > 0 else math.inf)
        optimizer.step()
        last = mean_over_processes(loss)
        if not math.isfinite(last):
            raise TrainError(f"the loss became {last} at step {t + 1}: training diverged (lower the learning rate, or clip gradients)")
        seconds = time.perf_counter() - began
        elapsed += seconds
        record({"step": t + 1, "loss": last, "lr": base, "grad_norm": grad_norm.item(), "tokens_per_s": tokens_per_step / seconds, "elapsed_s": elapsed})
        line = f"step {t + 1:>{len(str(steps))}}/{steps}  loss {last:.4f}  lr {base:.2e}  |g| {grad_norm.item():.3f}"
        done = t + 1 == steps
        if (t + 1) % RECIPE["eval_every"] == 0 or done:
            v = val_loss()
            record({"step": t + 1, "val_loss": v})
            line += f"  val {v:.4f}"
            improved = best_val is None or v < best_val
            best_val = v if improved else best_val
        else:
            v, improved = None, False
        log(line)
        if rank == 0 and ((t + 1) % every == 0 or done):
            trainer = {"format": "mdlc/1", "step": t + 1, "batches_drawn": sampler.drawn, "seed": seed, "model_hash": RECIPE["model_hash"], "val_loss": v, "best_val_loss": best_val, "elapsed_s": elapsed}
            save_checkpoint(run_dir, model, optimizer, trainer, improved)
    if rank == 0:
        metrics.close()
        log(f"done: final loss {last:.4f}; the run is in {run_dir}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TrainError as e:
        print(f"train.py: {e}", file=sys.stderr)
        sys.exit(1)
