"""F2 linear layouts: how Triton maps hardware locations to tensor elements, in pure Python.

Why linear layouts
==================

A Triton GPU tensor is spread over hardware: each element lives in some *register* of some
*lane* (thread) of some *warp* of some *block* (CTA of a cluster); a tensor in shared memory
lives at some *offset* of some block's allocation.  Every layout Triton 3.x uses -- blocked,
slice, mma, mfma, dot operands, swizzled/NVMMA shared -- is the same kind of object: a *linear
map over F2* from the hardware index to the tensor index.  One representation lets us compare,
compose, invert and cost any pair of layouts without a case per encoding pair.

In-dims, out-dims, bases
========================

A ``LinearLayout`` has ordered, named *in-dims* and *out-dims*, every size a power of two:

* register layouts: in-dims ``register, lane, warp, block``; shared layouts: ``offset, block``;
* out-dims ``dim0, dim1, ..., dimN-1``: the logical tensor index (``dim0`` is the outermost dim
  of the tensor type, so for a row-major ``[M, N]`` tensor ``dim1`` is the fast one).

An in-dim of size ``2**k`` has ``k`` *bases*: ``bases["lane"][i]`` is the tensor index that
``lane = 2**i`` (every other input 0) maps to, one integer per out-dim.  Any other input is
evaluated by XOR-linearity: write every input in binary and XOR together the bases of the set
bits, per out-dim::

    L(register=r, lane=l, warp=w) =  XOR_{i: bit i of r} bases["register"][i]
                                   ^ XOR_{i: bit i of l} bases["lane"][i]
                                   ^ XOR_{i: bit i of w} bases["warp"][i]

Example: ``#ttg.blocked<{sizePerThread=[1,8], threadsPerWarp=[4,8], warpsPerCTA=[4,1],
order=[1,0]}>`` on ``64x64`` is ``register: (0,1) (0,2) (0,4) (16,0) (32,0)``, ``lane: (0,8)
(0,16) (0,32) (1,0) (2,0)``, ``warp: (4,0) (8,0)``: eight consecutive columns per thread, eight
threads across a row, four rows per warp, four warps, then the pattern repeats twice in registers
(``(16,0)``, ``(32,0)``) to cover 64 rows.  Lane 9 = ``0b01001`` holds
``(0,8) ^ (1,0) = (1,8)`` in register 0.

Viewing both sides flattened (first dim least significant) the layout is an F2 matrix
``M`` of ``total_out_bits x total_in_bits`` and ``L(x) = M x``.  XOR-linearity is what lets
swizzles (``col ^ f(row)``) be layouts: a swizzle is a linear map that is not a permutation of
bits.

Surjective, injective, broadcasting
===================================

* *surjective*: every tensor element is held somewhere (``rank M == out bits``).  Triton's
  encodings are surjective on their shape.
* *injective*: no element is held twice.  A zero basis (e.g. ``lane: (0, 0)``) or a basis that is
  the XOR of others makes two hardware slots hold the same element: *broadcasting*.  Those input
  bits are *free variables*; ``free_variable_masks()`` returns them per in-dim (the non-pivot
  columns of the row-reduced matrix).  A tensor smaller than the encoding's tile broadcasts;
  a larger one repeats the tile in more registers.

Composition, inversion, conversion
==================================

* ``A.compose(B)`` is ``B ∘ A``: ``A``'s out-dims feed ``B``'s in-dims of the same names.
* ``L.invert()`` exists for a bijection (square and surjective): the ``tensor index -> hardware``
  map.  ``L.pseudo_invert()`` is a right inverse of a surjective ``L``: among all preimages it picks
  the one with the free variables set to zero (read off the reduced row-echelon form, so it is
  unique and equals Triton's).
* ``A.invert_and_compose(B)`` (Triton's ``A.invertAndCompose(B)``) is the *conversion*: the map
  ``X`` from ``A``'s in-dims to ``B``'s in-dims with ``B(X(x)) == A(x)`` -- "where in layout B is the
  element that A holds here".  In-dims whose bases are identical in both map identically; the rest
  is solved by least squares over F2 with free variables zero.  ``convert_layout`` lowers through
  it: register-only differences are a permutation, lane differences are shuffles, anything else
  goes through shared memory.

Reshaping
=========

``flatten_outs``/``reshape_outs`` and ``flatten_ins``/``reshape_ins`` reinterpret the flat index
(first dim least significant); ``transpose_outs`` only reorders dims; ``sublayout`` restricts to
some in- and out-dims.  ``contiguous_elements()`` counts consecutive registers that hit
consecutive elements of the fastest dim (Triton's ``getNumConsecutiveInOut``) and
``largest_vector_width(bits)`` turns it into the widest legal vector access.

Shapes that are not powers of two
=================================

Layouts need power-of-two sizes.  ``build(kind, params, shape)`` builds any encoding for the next
power-of-two shape and returns a ``GuardedLayout`` that also knows the real extent, so a cost
model can count masked registers, lanes and bytes.

Modules
=======

``linear`` the algebra; ``shape`` fitting a CTA tile to a tensor shape; ``distributed`` register
encodings; ``shared`` shared-memory encodings; ``guard`` non-power-of-two shapes and the
``build`` entry point.  Everything is plain Python + numpy; libtriton is only a test oracle.
"""

from .distributed import (
    AmdMfmaParams,
    NvidiaMmaParams,
    amd_mfma,
    blocked,
    dot_operand,
    linear,
    nvidia_mma,
    slice,  # noqa: A004
)
from .guard import GuardedLayout, build, build_pow2
from .linear import LinearLayout, is_pow2, lstsq, next_pow2
from .shape import CTALayout, combine_cta_cga_with_shape, identity_standard_nd, standard_out_dims
from .shared import (
    PaddedSharedLayout,
    amd_rotating_shared,
    nvmma_shared,
    padded_shared,
    shared_linear,
    swizzled_shared,
)

__all__ = [
    "AmdMfmaParams",
    "CTALayout",
    "GuardedLayout",
    "LinearLayout",
    "NvidiaMmaParams",
    "PaddedSharedLayout",
    "amd_mfma",
    "amd_rotating_shared",
    "blocked",
    "build",
    "build_pow2",
    "combine_cta_cga_with_shape",
    "dot_operand",
    "identity_standard_nd",
    "is_pow2",
    "linear",
    "lstsq",
    "next_pow2",
    "nvidia_mma",
    "nvmma_shared",
    "padded_shared",
    "shared_linear",
    "slice",
    "standard_out_dims",
    "swizzled_shared",
]
