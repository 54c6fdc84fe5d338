"""Kernels in the style of what LLM serving engines run, written for this project (none is copied).

Paged decode attention with an early exit for empty sequences, varlen (packed) prefill attention over
`cu_seqlens`, the KV-cache write by slot mapping, MoE align (block-size padding of the token ids sorted by
expert), MoE permute / unpermute, two sampler kernels over a whole vocabulary row, and the three
reproducers of issue 10 (an early `return`, a contiguous tile at a loaded base, a copy to a loaded
offset). Their launches (corpora/serving.toml) use the sizes serving runs: Llama-3-8B heads (32 query
heads, 8 KV heads, head dim 128), 16-token pages, a 128256-token vocabulary.
"""

import triton
import triton.language as tl


@triton.jit
def paged_decode_attention(out_ptr, q_ptr, k_cache_ptr, v_cache_ptr, block_tables_ptr, seq_lens_ptr,
                           scale, stride_bt, stride_cache_block,
                           NUM_HEADS: tl.constexpr, NUM_KV_HEADS: tl.constexpr, HEAD_DIM: tl.constexpr,
                           PAGE: tl.constexpr):
    """Movement: one query row per (sequence, head); a page number read from the block table is the uniform
    base of a [PAGE, HEAD_DIM] tile of K and V (views of one KV cache); empty sequences exit early."""
    seq = tl.program_id(0)
    head = tl.program_id(1)
    seq_len = tl.load(seq_lens_ptr + seq)
    if seq_len == 0:
        return
    kv_head = head // (NUM_HEADS // NUM_KV_HEADS)
    offs_d = tl.arange(0, HEAD_DIM)
    offs_p = tl.arange(0, PAGE)
    q = tl.load(q_ptr + (seq * NUM_HEADS + head) * HEAD_DIM + offs_d).to(tl.float32)
    m_i = tl.full([], float("-inf"), tl.float32)
    l_i = tl.full([], 0.0, tl.float32)
    acc = tl.zeros([HEAD_DIM], dtype=tl.float32)
    for p in range(0, tl.cdiv(seq_len, PAGE)):
        block = tl.load(block_tables_ptr + seq * stride_bt + p)
        tok = p * PAGE + offs_p
        valid = tok < seq_len
        kv = (block * stride_cache_block + (offs_p[:, None] * NUM_KV_HEADS + kv_head) * HEAD_DIM
              + offs_d[None, :])
        k = tl.load(k_cache_ptr + kv, mask=valid[:, None], other=0.0).to(tl.float32)
        s = tl.sum(k * q[None, :], axis=1) * scale
        s = tl.where(valid, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=0))
        alpha = tl.exp(m_i - m_new)
        e = tl.exp(s - m_new)
        v = tl.load(v_cache_ptr + kv, mask=valid[:, None], other=0.0).to(tl.float32)
        l_i = l_i * alpha + tl.sum(e, axis=0)
        acc = acc * alpha + tl.sum(e[:, None] * v, axis=0)
        m_i = m_new
    out = acc / l_i
    tl.store(out_ptr + (seq * NUM_HEADS + head) * HEAD_DIM + offs_d, out.to(out_ptr.dtype.element_ty))


@triton.jit
def varlen_prefill_attention(out_ptr, q_ptr, k_ptr, v_ptr, cu_seqlens_ptr, scale, stride_qkv, stride_out,
                             NUM_HEADS: tl.constexpr, NUM_KV_HEADS: tl.constexpr, HEAD_DIM: tl.constexpr,
                             BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Movement: packed sequences; the sequence start read from cu_seqlens is the uniform base of the Q, K
    and V tiles (views of one fused QKV tensor); causal tiles through two tl.dot; query blocks past the
    sequence's end exit early."""
    seq = tl.program_id(0)
    mblk = tl.program_id(1)
    head = tl.program_id(2)
    start = tl.load(cu_seqlens_ptr + seq)
    seq_len = tl.load(cu_seqlens_ptr + seq + 1) - start
    if mblk * BLOCK_M >= seq_len:
        return
    kv_head = head // (NUM_HEADS // NUM_KV_HEADS)
    offs_m = mblk * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    row_ok = offs_m < seq_len
    q = tl.load(q_ptr + (start + offs_m)[:, None] * stride_qkv + head * HEAD_DIM + offs_d[None, :],
                mask=row_ok[:, None], other=0.0)
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    hi = tl.minimum((mblk + 1) * BLOCK_M, seq_len)
    for n0 in range(0, hi, BLOCK_N):
        cols = n0 + offs_n
        col_ok = cols < seq_len
        k = tl.load(k_ptr + (start + cols)[None, :] * stride_qkv + kv_head * HEAD_DIM + offs_d[:, None],
                    mask=col_ok[None, :], other=0.0)
        qk = tl.dot(q, k) * scale
        qk = tl.where((offs_m[:, None] >= cols[None, :]) & col_ok[None, :], qk, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(qk, axis=1))
        alpha = tl.exp(m_i - m_new)
        p = tl.exp(qk - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        v = tl.load(v_ptr + (start + cols)[:, None] * stride_qkv + kv_head * HEAD_DIM + offs_d[None, :],
                    mask=col_ok[:, None], other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / l_i[:, None]
    tl.store(out_ptr + (start + offs_m)[:, None] * stride_out + head * HEAD_DIM + offs_d[None, :],
             out.to(out_ptr.dtype.element_ty), mask=row_ok[:, None])


@triton.jit
def kv_cache_scatter(key_ptr, value_ptr, key_cache_ptr, value_cache_ptr, slot_mapping_ptr,
                     stride_key: tl.int64, stride_value: tl.int64, stride_cache_block: tl.int64,
                     PAGE: tl.constexpr, ROW: tl.constexpr):
    """Movement: one token's K and V rows (views of the fused QKV) stored at the page and offset of its slot
    (a loaded scalar: a uniform base); padding tokens (slot < 0) exit early; int64-annotated strides."""
    tok = tl.program_id(0)
    slot = tl.load(slot_mapping_ptr + tok).to(tl.int64)
    if slot < 0:
        return
    block = slot // PAGE
    within = slot % PAGE
    offs = tl.arange(0, ROW)
    dst = block * stride_cache_block + within * ROW + offs
    tl.store(key_cache_ptr + dst, tl.load(key_ptr + tok * stride_key + offs))
    tl.store(value_cache_ptr + dst, tl.load(value_ptr + tok * stride_value + offs))


@triton.jit
def moe_align_block_size(topk_ids_ptr, sorted_token_ids_ptr, expert_ids_ptr, num_tokens_post_pad_ptr, numel,
                         NUM_EXPERTS: tl.constexpr, BLOCK_SIZE: tl.constexpr, BLOCK_T: tl.constexpr,
                         MAX_PADDED: tl.constexpr, MAX_BLOCKS: tl.constexpr):
    """Movement: one program counts the (token, k) pairs per expert (one-hot sums), pads every expert to a
    multiple of BLOCK_SIZE (cumsum of the padded counts), writes the expert of every block and scatters each
    pair's index to its rank inside its expert's segment (sentinel `numel` in the padding)."""
    experts = tl.arange(0, NUM_EXPERTS)
    counts = tl.zeros([NUM_EXPERTS], dtype=tl.int32)
    for t0 in range(0, numel, BLOCK_T):
        offs = t0 + tl.arange(0, BLOCK_T)
        ids = tl.load(topk_ids_ptr + offs, mask=offs < numel, other=-1)
        counts += tl.sum((ids[:, None] == experts[None, :]).to(tl.int32), axis=0)
    padded = (counts + BLOCK_SIZE - 1) // BLOCK_SIZE * BLOCK_SIZE
    ends = tl.cumsum(padded, axis=0)
    starts = ends - padded
    total = tl.sum(padded, axis=0)
    tl.store(num_tokens_post_pad_ptr, total)
    blocks = tl.arange(0, MAX_BLOCKS)
    block_expert = tl.sum((ends[None, :] <= blocks[:, None] * BLOCK_SIZE).to(tl.int32), axis=1)
    tl.store(expert_ids_ptr + blocks, block_expert, mask=blocks * BLOCK_SIZE < total)
    for p0 in range(0, MAX_PADDED, BLOCK_T):
        po = p0 + tl.arange(0, BLOCK_T)
        tl.store(sorted_token_ids_ptr + po, tl.full([BLOCK_T], 0, tl.int32) + numel, mask=po < MAX_PADDED)
    tl.debug_barrier()
    seen = starts
    for t0 in range(0, numel, BLOCK_T):
        offs = t0 + tl.arange(0, BLOCK_T)
        ids = tl.load(topk_ids_ptr + offs, mask=offs < numel, other=-1)
        onehot = (ids[:, None] == experts[None, :]).to(tl.int32)
        rank = tl.cumsum(onehot, axis=0) - onehot
        pos = tl.sum(onehot * (rank + seen[None, :]), axis=1)
        tl.store(sorted_token_ids_ptr + pos, offs, mask=offs < numel)
        seen += tl.sum(onehot, axis=0)


@triton.jit
def moe_permute_rows(hidden_ptr, src_row_ptr, out_ptr, hidden_size, TOPK: tl.constexpr,
                     BLOCK_H: tl.constexpr):
    """Movement: output row r is the hidden row of token src_row[r] // TOPK: a loaded scalar base per
    program, then contiguous BLOCK_H-wide copies along the hidden dimension."""
    dst = tl.program_id(0)
    tok = tl.load(src_row_ptr + dst) // TOPK
    for h0 in range(0, hidden_size, BLOCK_H):
        offs = h0 + tl.arange(0, BLOCK_H)
        ok = offs < hidden_size
        x = tl.load(hidden_ptr + tok * hidden_size + offs, mask=ok)
        tl.store(out_ptr + dst * hidden_size + offs, x, mask=ok)


@triton.jit
def moe_unpermute_reduce(permuted_ptr, inv_row_ptr, weights_ptr, out_ptr, hidden_size, TOPK: tl.constexpr,
                         BLOCK_H: tl.constexpr, COMPUTE_TYPE: tl.constexpr):
    """Movement: each token gathers its TOPK expert outputs (rows at loaded indices), weights them in
    COMPUTE_TYPE (a dtype constexpr) and stores one contiguous row."""
    tok = tl.program_id(0)
    for h0 in range(0, hidden_size, BLOCK_H):
        offs = h0 + tl.arange(0, BLOCK_H)
        ok = offs < hidden_size
        acc = tl.zeros([BLOCK_H], dtype=COMPUTE_TYPE)
        for k in tl.static_range(TOPK):
            row = tl.load(inv_row_ptr + tok * TOPK + k)
            w = tl.load(weights_ptr + tok * TOPK + k).to(COMPUTE_TYPE)
            x = tl.load(permuted_ptr + row * hidden_size + offs, mask=ok, other=0.0).to(COMPUTE_TYPE)
            acc += w * x
        tl.store(out_ptr + tok * hidden_size + offs, acc.to(out_ptr.dtype.element_ty), mask=ok)


@triton.jit
def sample_recovered_tokens(out_ptr, cu_num_draft_ptr, target_probs_ptr, draft_probs_ptr, q_ptr, vocab_size,
                            BLOCK_V: tl.constexpr):
    """Movement: per draft position of a request (its row from cu_num_draft, positions past the request's
    drafts exit early), a scan over the whole vocabulary row in BLOCK_V tiles: argmax of
    max(target - draft, 0) / q, three streamed rows and a running (max, index) pair."""
    req = tl.program_id(0)
    pos = tl.program_id(1)
    start = tl.load(cu_num_draft_ptr + req)
    if pos >= tl.load(cu_num_draft_ptr + req + 1) - start:
        return
    tok = (start + pos).to(tl.int64)
    best = tl.full([], -1.0, tl.float32)
    best_id = tl.full([], 0, tl.int32)
    for v0 in range(0, vocab_size, BLOCK_V):
        offs = v0 + tl.arange(0, BLOCK_V)
        ok = offs < vocab_size
        p = tl.load(target_probs_ptr + tok * vocab_size + offs, mask=ok, other=0.0)
        d = tl.load(draft_probs_ptr + tok * vocab_size + offs, mask=ok, other=0.0)
        qv = tl.load(q_ptr + req * vocab_size + offs, mask=ok, other=1.0)
        score = tl.where(ok, tl.maximum(p - d, 0.0) / qv, -1.0)
        blk_best = tl.max(score, axis=0)
        blk_id = tl.argmax(score, axis=0) + v0
        better = blk_best > best
        best_id = tl.where(better, blk_id, best_id)
        best = tl.where(better, blk_best, best)
    tl.store(out_ptr + tok, best_id)


@triton.jit
def temperature_softmax_row(logits_ptr, temperature_ptr, probs_ptr, vocab_size, BLOCK_V: tl.constexpr):
    """Movement: one program per request holds its whole vocabulary row (BLOCK_V = 131072 lanes) in
    registers: a masked row load, two cross-warp reductions (max, sum) and a row store."""
    row = tl.program_id(0)
    t = tl.load(temperature_ptr + row)
    offs = tl.arange(0, BLOCK_V)
    ok = offs < vocab_size
    x = tl.load(logits_ptr + row.to(tl.int64) * vocab_size + offs, mask=ok, other=float("-inf")) / t
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(probs_ptr + row.to(tl.int64) * vocab_size + offs, e / tl.sum(e, axis=0), mask=ok)


@triton.jit
def early_return(idx_ptr, src_ptr, dst_ptr, BLOCK: tl.constexpr):
    """Movement: issue 10 reproducer: a loaded row index guards the rest of the kernel with an early return
    (2 loads and 1 store in all; negative rows are skipped)."""
    pid = tl.program_id(0)
    row = tl.load(idx_ptr + pid)
    if row < 0:
        return
    offs = tl.arange(0, BLOCK)
    tl.store(dst_ptr + row * BLOCK + offs, tl.load(src_ptr + pid * BLOCK + offs))


@triton.jit
def scalar_base_copy(start_ptr, src_ptr, dst_ptr, BLOCK: tl.constexpr):
    """Movement: issue 10 reproducer: a contiguous tile at a base loaded once per program (a uniform
    data-dependent base, not a gather)."""
    pid = tl.program_id(0)
    start = tl.load(start_ptr + pid)
    offs = tl.arange(0, BLOCK)
    tl.store(dst_ptr + pid * BLOCK + offs, tl.load(src_ptr + start + offs))


@triton.jit
def copy_row_to_runtime_offset(rows_ptr, indptr_ptr, src_ptr, dst_ptr, BLOCK: tl.constexpr):
    """Movement: issue 10 reproducer: a row at a loaded index copied to a loaded output offset (the KV-index
    copy of a serving engine)."""
    pid = tl.program_id(0)
    row = tl.load(rows_ptr + pid)
    out_off = tl.load(indptr_ptr + pid)
    offs = tl.arange(0, BLOCK)
    x = tl.load(src_ptr + row * BLOCK + offs)
    tl.store(dst_ptr + out_off + offs, x)
