"""Kernels whose extents are not multiples of 16: row widths, vocabularies, token counts and head dims
that Triton's JIT cannot specialize on (it marks an integer `tt.divisibility = 16` only when it is a
multiple of 16), so every masked access falls back to one element per instruction. Each is written as an
LLM training or serving engine writes it; `corpora/ragged.toml` runs them at widths that are multiples of
8 but not 16 (1000, 5000, 1544, 50264, head dim 40) and at widths with no useful divisor (1001, 32001).
"""

import triton
import triton.language as tl


@triton.jit
def softmax_rows_ragged(x_ptr, y_ptr, n_cols, BLOCK_N: tl.constexpr):
    """Movement: one row of n_cols fp32 per program (rows packed, row stride = n_cols), masked load,
    max and sum reductions broadcast back, masked store."""
    row = tl.program_id(0).to(tl.int64)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=-float("inf"))
    z = x - tl.max(x, axis=0)
    num = tl.exp(z)
    den = tl.sum(num, axis=0)
    tl.store(y_ptr + row * n_cols + offs, num / den, mask=mask)


@triton.jit
def softmax_rows_lowp_ragged(x_ptr, y_ptr, n_cols, BLOCK_N: tl.constexpr):
    """Movement: row softmax of 16-bit rows (attention scores, logits in bf16 / fp16) of n_cols elements
    (rows packed, row stride = n_cols): masked load, statistics in fp32, masked store in the input dtype."""
    row = tl.program_id(0).to(tl.int64)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=-float("inf")).to(tl.float32)
    z = x - tl.max(x, axis=0)
    num = tl.exp(z)
    den = tl.sum(num, axis=0)
    tl.store(y_ptr + row * n_cols + offs, (num / den).to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def rmsnorm_rows_ragged(x_ptr, w_ptr, y_ptr, rstd_ptr, stride_row, n_cols, eps, BLOCK_N: tl.constexpr):
    """Movement: RMSNorm of bf16 rows (Llama-style: statistics in fp32, weight applied in fp32, bf16
    out): masked row load at a runtime row stride, a per-column weight load, a sum-of-squares reduction
    broadcast back, a masked row store and one fp32 rstd per row."""
    row = tl.program_id(0).to(tl.int64)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * stride_row + offs, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / n_cols + eps)
    tl.store(rstd_ptr + row, rstd)
    tl.store(y_ptr + row * stride_row + offs, (x * rstd * w).to(tl.bfloat16), mask=mask)


@triton.jit
def layernorm_rows_ragged(x_ptr, w_ptr, b_ptr, y_ptr, stride_row, n_cols, eps, BLOCK_N: tl.constexpr):
    """Movement: LayerNorm of fp16 rows: masked row load at a runtime row stride, mean and variance
    reductions broadcast back, per-column weight and bias loads, masked row store."""
    row = tl.program_id(0).to(tl.int64)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * stride_row + offs, mask=mask, other=0.0).to(tl.float32)
    mean = tl.sum(x, axis=0) / n_cols
    d = tl.where(mask, x - mean, 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(d * d, axis=0) / n_cols + eps)
    w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + row * stride_row + offs, (d * rstd * w + b).to(tl.float16), mask=mask)


@triton.jit
def cross_entropy_rows_ragged(logits_ptr, target_ptr, loss_ptr, n_vocab, BLOCK_V: tl.constexpr):
    """Movement: cross-entropy forward over a vocabulary row of n_vocab fp32 logits (rows packed, row
    stride = n_vocab): an online max / log-sum-exp over masked blocks of the row, one gathered logit at
    the row's target id, one fp32 loss per row."""
    row = tl.program_id(0).to(tl.int64)
    base = logits_ptr + row * n_vocab
    offs = tl.arange(0, BLOCK_V)
    m = -float("inf")
    s = 0.0
    for start in range(0, n_vocab, BLOCK_V):
        mask = start + offs < n_vocab
        x = tl.load(base + start + offs, mask=mask, other=-float("inf"))
        m_new = tl.maximum(m, tl.max(x, axis=0))
        s = s * tl.exp(m - m_new) + tl.sum(tl.exp(x - m_new), axis=0)
        m = m_new
    t = tl.load(target_ptr + row)
    xt = tl.load(base + t)
    tl.store(loss_ptr + row, m + tl.log(s) - xt)


@triton.jit
def masked_copy_rows_ragged(x_ptr, y_ptr, n_rows, n_cols, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: a 2D fp32 copy of an n_rows x n_cols row-major tensor (row stride = n_cols), masked on
    both axes: streaming, already at DRAM bandwidth with scalar accesses."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (rm[:, None] < n_rows) & (rn[None, :] < n_cols)
    offs = rm[:, None].to(tl.int64) * n_cols + rn[None, :]
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


@triton.jit
def scale_tokens_ragged(x_ptr, scale_ptr, y_ptr, n_tokens, hidden, BLOCK_T: tl.constexpr,
                        BLOCK_H: tl.constexpr):
    """Movement: per-token scaling of a bf16 [n_tokens, hidden] activation (a ragged token count: the
    batch's real tokens, not a padded size), one fp32 scale per token broadcast over the row, masked on
    the token axis and the hidden axis."""
    pid_t = tl.program_id(0)
    pid_h = tl.program_id(1)
    rt = pid_t * BLOCK_T + tl.arange(0, BLOCK_T)
    rh = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)
    tmask = rt < n_tokens
    mask = tmask[:, None] & (rh[None, :] < hidden)
    offs = rt[:, None].to(tl.int64) * hidden + rh[None, :]
    s = tl.load(scale_ptr + rt, mask=tmask, other=0.0)
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + offs, (x * s[:, None]).to(tl.bfloat16), mask=mask)


@triton.jit
def qk_norm_heads_ragged(q_ptr, w_ptr, out_ptr, n_rows, head_dim, eps, BLOCK_R: tl.constexpr,
                         BLOCK_D: tl.constexpr):
    """Movement: per-head RMSNorm (QK-norm) of fp16 rows of head_dim elements (an odd head dim: 40, as
    in Stable Diffusion's 320-channel, 8-head attention), BLOCK_R (token, head) rows per program, a
    per-dim weight broadcast over the rows, masked on both axes."""
    pid = tl.program_id(0)
    rr = pid * BLOCK_R + tl.arange(0, BLOCK_R)
    rd = tl.arange(0, BLOCK_D)
    dmask = rd < head_dim
    mask = (rr[:, None] < n_rows) & dmask[None, :]
    offs = rr[:, None].to(tl.int64) * head_dim + rd[None, :]
    q = tl.load(q_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + rd, mask=dmask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(q * q, axis=1) / head_dim + eps)
    tl.store(out_ptr + offs, (q * rstd[:, None] * w[None, :]).to(tl.float16), mask=mask)
