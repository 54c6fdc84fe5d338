"""Indirect global accesses: offsets that depend on loaded values (embeddings, paged KV, MoE routing)."""

import triton
import triton.language as tl


@triton.jit
def embedding_lookup(ids_ptr, weight_ptr, out_ptr, n_tokens, hidden, BLOCK_T: tl.constexpr,
                     BLOCK_H: tl.constexpr):
    """Movement: indirect row loads of an embedding table through loaded token ids."""
    pid_t = tl.program_id(0)
    pid_h = tl.program_id(1)
    rt = pid_t * BLOCK_T + tl.arange(0, BLOCK_T)
    rh = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)
    tmask = rt < n_tokens
    ids = tl.load(ids_ptr + rt, mask=tmask, other=0)
    mask = tmask[:, None] & (rh[None, :] < hidden)
    rows = tl.load(weight_ptr + ids[:, None].to(tl.int64) * hidden + rh[None, :], mask=mask)
    tl.store(out_ptr + rt[:, None].to(tl.int64) * hidden + rh[None, :], rows, mask=mask)


@triton.jit
def paged_kv_gather(block_table_ptr, k_cache_ptr, v_cache_ptr, k_out_ptr, v_out_ptr, max_blocks,
                    BLOCK_SIZE: tl.constexpr, HEAD_DIM: tl.constexpr):
    """Movement: read a block table, then load whole K and V cache blocks at the loaded block ids
    into a contiguous per-sequence buffer."""
    seq = tl.program_id(0)
    rs = tl.arange(0, BLOCK_SIZE)
    rd = tl.arange(0, HEAD_DIM)
    for j in range(0, max_blocks):
        blk = tl.load(block_table_ptr + seq * max_blocks + j).to(tl.int64)
        src = blk * (BLOCK_SIZE * HEAD_DIM) + rs[:, None] * HEAD_DIM + rd[None, :]
        row = (seq * max_blocks + j).to(tl.int64)
        dst = row * (BLOCK_SIZE * HEAD_DIM) + rs[:, None] * HEAD_DIM + rd[None, :]
        k = tl.load(k_cache_ptr + src)
        v = tl.load(v_cache_ptr + src)
        tl.store(k_out_ptr + dst, k)
        tl.store(v_out_ptr + dst, v)


@triton.jit
def kv_cache_write(key_ptr, slot_ptr, cache_ptr, HEAD_DIM: tl.constexpr):
    """Movement: indirect store of one token's key into a paged cache slot given by a loaded slot id."""
    tok = tl.program_id(0)
    rd = tl.arange(0, HEAD_DIM)
    slot = tl.load(slot_ptr + tok).to(tl.int64)
    k = tl.load(key_ptr + tok * HEAD_DIM + rd)
    tl.store(cache_ptr + slot * HEAD_DIM + rd, k)


@triton.jit
def moe_permute(x_ptr, src_idx_ptr, out_ptr, n_rows, hidden, BLOCK_R: tl.constexpr, BLOCK_H: tl.constexpr):
    """Movement: MoE permute, out[i] = x[src_idx[i]] (indirect row loads sorted by expert)."""
    pid = tl.program_id(0)
    rr = pid * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rr < n_rows
    src = tl.load(src_idx_ptr + rr, mask=rmask, other=0).to(tl.int64)
    for h in range(0, hidden, BLOCK_H):
        rh = h + tl.arange(0, BLOCK_H)
        mask = rmask[:, None] & (rh[None, :] < hidden)
        v = tl.load(x_ptr + src[:, None] * hidden + rh[None, :], mask=mask)
        tl.store(out_ptr + rr[:, None].to(tl.int64) * hidden + rh[None, :], v, mask=mask)


@triton.jit
def moe_scatter(x_ptr, dst_idx_ptr, out_ptr, n_rows, hidden, BLOCK_R: tl.constexpr, BLOCK_H: tl.constexpr):
    """Movement: MoE scatter, out[dst_idx[i]] = x[i] (indirect row stores through a loaded permutation)."""
    pid = tl.program_id(0)
    rr = pid * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rr < n_rows
    dst = tl.load(dst_idx_ptr + rr, mask=rmask, other=0).to(tl.int64)
    for h in range(0, hidden, BLOCK_H):
        rh = h + tl.arange(0, BLOCK_H)
        mask = rmask[:, None] & (rh[None, :] < hidden)
        v = tl.load(x_ptr + rr[:, None].to(tl.int64) * hidden + rh[None, :], mask=mask)
        tl.store(out_ptr + dst[:, None] * hidden + rh[None, :], v, mask=mask)


@triton.jit
def moe_combine(y_ptr, dst_idx_ptr, weight_ptr, out_ptr, hidden, TOP_K: tl.constexpr, BLOCK_H: tl.constexpr):
    """Movement: MoE un-permute and combine: each token gathers its TOP_K expert rows at loaded
    positions and sums them weighted by the router weights."""
    tok = tl.program_id(0)
    rk = tl.arange(0, TOP_K)
    rh = tl.arange(0, BLOCK_H)
    pos = tl.load(dst_idx_ptr + tok * TOP_K + rk).to(tl.int64)
    w = tl.load(weight_ptr + tok * TOP_K + rk)
    rows = tl.load(y_ptr + pos[:, None] * hidden + rh[None, :], mask=rh[None, :] < hidden, other=0.0)
    acc = tl.sum(rows.to(tl.float32) * w[:, None], axis=0)
    tl.store(out_ptr + tok * hidden + rh, acc, mask=rh < hidden)


@triton.jit
def histogram_atomic(x_ptr, hist_ptr, n, NUM_BINS: tl.constexpr, BLOCK: tl.constexpr):
    """Movement: scatter-add with atomics at data-dependent bins (a histogram)."""
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(x_ptr + offs, mask=mask, other=0)
    bins = v % NUM_BINS
    tl.atomic_add(hist_ptr + bins, 1, mask=mask)
