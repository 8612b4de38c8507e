//! The one call into `matrixmultiply`: `C ← α A B + β C` on strided
//! matrices, the only `unsafe` of the batched path.

use core::any::TypeId;
use num_traits::Float;

/// A matrix in a slice: element `(i, j)` at `i · row_stride + j · col_stride`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Matrix<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T> Matrix<'a, T> {
    /// `rows × cols`, stored row after row.
    pub(crate) fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Matrix { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of a `cols × rows` row-major matrix: `rows × cols`,
    /// stored column after column.
    pub(crate) fn transposed(data: &'a [T], rows: usize, cols: usize) -> Self {
        Matrix { data, rows, cols, row_stride: 1, col_stride: rows }
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < self.data.len()
    }

    fn get(&self, i: usize, j: usize) -> T
    where
        T: Copy,
    {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// `C ← α A B + β C` with `C` row-major (`A.rows × B.cols`, exactly the
/// length of `c`): `matrixmultiply`'s `sgemm` for `f32`, `dgemm` for `f64`, a
/// plain triple loop for any other scalar type. With `β = 0`, `C`'s old
/// contents are ignored (even NaN).
///
/// Shapes that do not fit (never the case for the layers above) leave `c`
/// unchanged.
#[allow(unsafe_code)] // the call of sgemm/dgemm, with raw pointers
pub(crate) fn gemm_into<T: Float + 'static>(
    alpha: T,
    a: Matrix<'_, T>,
    b: Matrix<'_, T>,
    beta: T,
    c: &mut [T],
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || c.len() != m * n || !a.fits() || !b.fits() {
        return;
    }
    let stride = |s: usize| s as isize;
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        let (alpha, beta) = (alpha.to_f32().unwrap_or(f32::NAN), beta.to_f32().unwrap_or(f32::NAN));
        // SAFETY: `T` is `f32` (same `TypeId`), so the pointer casts only
        // name the type the elements already have. Every element (i, j) that
        // the strides reach lies inside its slice (`fits`, and `C` is a
        // dense row-major m × n matrix of exactly `c.len()` elements, whose
        // distinct (i, j) are distinct elements). `c` is a unique borrow, so
        // it overlaps neither `a` nor `b`.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                alpha,
                a.data.as_ptr().cast::<f32>(),
                stride(a.row_stride),
                stride(a.col_stride),
                b.data.as_ptr().cast::<f32>(),
                stride(b.row_stride),
                stride(b.col_stride),
                beta,
                c.as_mut_ptr().cast::<f32>(),
                stride(n),
                1,
            );
        }
    } else if TypeId::of::<T>() == TypeId::of::<f64>() {
        let (alpha, beta) = (alpha.to_f64().unwrap_or(f64::NAN), beta.to_f64().unwrap_or(f64::NAN));
        // SAFETY: as for `sgemm` above, with `T` = `f64`.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                alpha,
                a.data.as_ptr().cast::<f64>(),
                stride(a.row_stride),
                stride(a.col_stride),
                b.data.as_ptr().cast::<f64>(),
                stride(b.row_stride),
                stride(b.col_stride),
                beta,
                c.as_mut_ptr().cast::<f64>(),
                stride(n),
                1,
            );
        }
    } else {
        for i in 0..m {
            for j in 0..n {
                let sum = (0..k).fold(T::zero(), |s, p| s + a.get(i, p) * b.get(p, j));
                let c = &mut c[i * n + j];
                *c = if beta == T::zero() { alpha * sum } else { alpha * sum + beta * *c };
            }
        }
    }
}
