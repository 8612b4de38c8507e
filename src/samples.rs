//! Rows of numbers into samples: from `Vec<Vec<f32>>` or lines of CSV text
//! to the fixed-width arrays a model takes.
//!
//! Data rarely arrives typed. A model of input width 4 takes `[f32; 4]`; a
//! file or another library hands over rows of any length. These functions
//! check every row's width once, on the way in, and report the first bad row
//! by its number, instead of leaving a `try_into().unwrap()` to panic on it:
//!
//! * [`from_rows`] (`alloc`): rows of numbers (`Vec<Vec<T>>`, `&[&[T]]`,
//!   any iterator of slices) into `Vec<[T; N]>`. A row of another width is
//!   [`Error::RowLength`].
//! * [`parse_row`]: one line of comma-separated numbers into `[T; N]`.
//! * [`parse_labelled_row`]: one line of `N` numbers followed by a class
//!   index (the layout of most classification CSV files, and of `data/` in
//!   the repository) into `([T; N], usize)`.
//!
//! The two parsers need no allocator. They trim spaces around each field
//! (and the `\r` of a Windows line end), and refuse a field that is not a
//! number, a number that is NaN or infinite (`nan`, `inf`, or too large
//! for `T`), and a class that is not a whole number from 0:
//! [`Error::InvalidValue`], with its row and column. Rows are numbered as
//! the caller says (the `row` argument, for example the line number, or the
//! index among the data rows), columns from 0.
//!
//! ```
//! use backprop::samples;
//!
//! // Rows from elsewhere: all of width 4, so they become `[f32; 4]` samples.
//! let rows: Vec<Vec<f32>> = vec![vec![5.1, 3.5, 1.4, 0.2], vec![6.3, 3.3, 6.0, 2.5]];
//! let inputs: Vec<[f32; 4]> = samples::from_rows(&rows)?;
//! assert_eq!(inputs[1], [6.3, 3.3, 6.0, 2.5]);
//!
//! // One short row, and the error says which.
//! let ragged = vec![vec![5.1, 3.5, 1.4, 0.2], vec![6.3, 3.3, 6.0]];
//! let error = samples::from_rows::<f32, 4>(&ragged).unwrap_err();
//! assert_eq!(error.to_string(), "row 1 has 3 values, 4 expected");
//!
//! // CSV lines: four measurements, then the class.
//! let csv = "sepal_length,sepal_width,petal_length,petal_width,species\n\
//!            5.1,3.5,1.4,0.2,0\n\
//!            6.3,3.3,6.0,2.5,2\n";
//! let (mut inputs, mut labels) = (Vec::new(), Vec::new());
//! for (row, line) in csv.lines().skip(1).enumerate() { // rows from 0, after the header
//!     let (x, class) = samples::parse_labelled_row::<f32, 4>(line, row)?;
//!     inputs.push(x);
//!     labels.push(class);
//! }
//! assert_eq!((inputs[1], labels[1]), ([6.3, 3.3, 6.0, 2.5], 2));
//!
//! let error = samples::parse_labelled_row::<f32, 4>("5.1,3.5,n/a,0.2,0", 7).unwrap_err();
//! assert_eq!(error.to_string(), "row 7, column 2: the value is not a number");
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! The values are checked to be numbers here; whether they suit the model
//! (a class below its number of outputs, a target in `[0, 1]`) is checked
//! by [`fit`](crate::Train::fit) and [`check_data`](crate::Train::check_data),
//! which name the sample.

use crate::error::Error;
use num_traits::Float;

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;

/// Rows of `N` values into `N`-wide samples, in order.
///
/// `rows` is anything that yields rows as slices: `&Vec<Vec<T>>`,
/// `&[&[T]]`, or an iterator of `Vec<T>`. An empty input gives an empty
/// `Vec`.
///
/// # Errors
///
/// [`Error::RowLength`] for the first row that does not hold exactly `N`
/// values, with its index (from 0) and its length.
///
/// ```
/// use backprop::{samples, Error};
///
/// let targets: Vec<[f64; 1]> = samples::from_rows([vec![0.5], vec![1.5]])?;
/// assert_eq!(targets, [[0.5], [1.5]]);
///
/// let error = samples::from_rows::<f64, 1>([vec![0.5], vec![], vec![1.0]]).unwrap_err();
/// assert_eq!(error, Error::RowLength { row: 1, len: 0, expected: 1 });
/// # Ok::<(), Error>(())
/// ```
#[cfg(feature = "alloc")]
pub fn from_rows<T: Copy, const N: usize>(
    rows: impl IntoIterator<Item = impl AsRef<[T]>>,
) -> Result<Vec<[T; N]>, Error> {
    let rows = rows.into_iter();
    let mut samples = Vec::with_capacity(rows.size_hint().0);
    for (row, values) in rows.enumerate() {
        let values = values.as_ref();
        let sample: [T; N] =
            values.try_into().map_err(|_| Error::RowLength { row, len: values.len(), expected: N })?;
        samples.push(sample);
    }
    Ok(samples)
}

/// One line of `N` comma-separated numbers into a sample.
///
/// Spaces around a field are ignored, and so is the `\r` of a Windows line
/// end. `row` is the number the errors give the line.
///
/// # Errors
///
/// * [`Error::RowLength`] if the line does not have `N` fields;
/// * [`Error::InvalidValue`] for the first field that is not a number
///   (`reason`: `"is not a number"`) or is NaN or infinite (`"is not
///   finite"`, which includes a number too large for `T`).
///
/// ```
/// use backprop::{samples, Error};
///
/// assert_eq!(samples::parse_row::<f64, 3>(" 1, -2.5 ,3e2\r", 0)?, [1.0, -2.5, 300.0]);
/// assert_eq!(
///     samples::parse_row::<f64, 3>("1,2", 9).unwrap_err(),
///     Error::RowLength { row: 9, len: 2, expected: 3 },
/// );
/// assert_eq!(
///     samples::parse_row::<f32, 2>("1,NaN", 4).unwrap_err().to_string(),
///     "row 4, column 1: the value is not finite",
/// );
/// # Ok::<(), Error>(())
/// ```
pub fn parse_row<T: Float + core::str::FromStr, const N: usize>(
    line: &str,
    row: usize,
) -> Result<[T; N], Error> {
    let len = fields(line).count();
    if len != N {
        return Err(Error::RowLength { row, len, expected: N });
    }
    let mut sample = [T::zero(); N];
    for (column, (value, field)) in sample.iter_mut().zip(fields(line)).enumerate() {
        *value = number(field, row, column)?;
    }
    Ok(sample)
}

/// One line of `N` comma-separated numbers followed by a class index into
/// a sample and its label, for [`SoftmaxCrossEntropy`](crate::loss::SoftmaxCrossEntropy).
///
/// The class is a whole number from 0, written as an integer (`2`) or as a
/// number with nothing after the point (`2.0`, as some tools write every
/// column). Spaces, `\r` and `row` as for [`parse_row`].
///
/// # Errors
///
/// * [`Error::RowLength`] if the line does not have `N + 1` fields;
/// * [`Error::InvalidValue`] for the first of the `N` values that is not a
///   finite number (as [`parse_row`]), or for a class that is not a whole
///   number from 0 (`reason`: `"is not a class index (a whole number from
///   0)"`).
///
/// ```
/// use backprop::{samples, Error};
///
/// let (x, class) = samples::parse_labelled_row::<f32, 2>("0.5,-1.0,3", 0)?;
/// assert_eq!((x, class), ([0.5, -1.0], 3));
///
/// let error = samples::parse_labelled_row::<f32, 2>("0.5,-1.0,setosa", 12).unwrap_err();
/// assert_eq!(error.to_string(), "row 12, column 2: the value is not a class index (a whole number from 0)");
/// # Ok::<(), Error>(())
/// ```
pub fn parse_labelled_row<T: Float + core::str::FromStr, const N: usize>(
    line: &str,
    row: usize,
) -> Result<([T; N], usize), Error> {
    let len = fields(line).count();
    if len != N + 1 {
        return Err(Error::RowLength { row, len, expected: N + 1 });
    }
    let mut sample = [T::zero(); N];
    let mut fields = fields(line);
    for (column, (value, field)) in sample.iter_mut().zip(fields.by_ref()).enumerate() {
        *value = number(field, row, column)?;
    }
    let class = fields.next().and_then(class_index);
    let class = class.ok_or(Error::InvalidValue { row, column: N, reason: NOT_A_CLASS })?;
    Ok((sample, class))
}

const NOT_A_CLASS: &str = "is not a class index (a whole number from 0)";

/// The fields of a comma-separated line, without the spaces around them.
fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(str::trim)
}

/// A field as a finite number.
fn number<T: Float + core::str::FromStr>(field: &str, row: usize, column: usize) -> Result<T, Error> {
    let value: T =
        field.parse().map_err(|_| Error::InvalidValue { row, column, reason: "is not a number" })?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidValue { row, column, reason: "is not finite" })
    }
}

/// A field as a class index: an integer, or a whole number written as a
/// float below 2⁵³ (where every whole `f64` is exact).
fn class_index(field: &str) -> Option<usize> {
    if let Ok(class) = field.parse::<usize>() {
        return Some(class);
    }
    let value: f64 = field.parse().ok()?;
    let whole = (0.0..9_007_199_254_740_992.0).contains(&value) && value == Float::trunc(value);
    // Below 2⁵³ and whole, so the conversion is exact (on 32-bit targets it
    // must also fit a `usize`).
    whole.then(|| usize::try_from(value as u64).ok()).flatten()
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::ToString;
    use std::{format, vec, vec::Vec};

    #[cfg(feature = "alloc")]
    #[test]
    fn from_rows_makes_samples_of_every_row_shape() {
        let vecs: Vec<Vec<f32>> = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        assert_eq!(from_rows::<f32, 2>(&vecs), Ok(vec![[1.0, 2.0], [3.0, 4.0]]));
        let slices: [&[f64]; 2] = [&[1.0], &[2.0]];
        assert_eq!(from_rows::<f64, 1>(slices), Ok(vec![[1.0], [2.0]]));
        assert_eq!(from_rows::<f32, 3>(Vec::<Vec<f32>>::new()), Ok(vec![]));
        // By value, from an iterator.
        let owned = (0..3).map(|i| vec![i as f32; 4]);
        assert_eq!(from_rows::<f32, 4>(owned).unwrap()[2], [2.0; 4]);
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn from_rows_names_the_first_row_of_another_width() {
        let rows = vec![vec![1.0_f32; 4], vec![1.0; 4], vec![1.0; 4], vec![1.0; 4], vec![1.0; 4]];
        let mut short = rows.clone();
        short.extend([vec![1.0; 4], vec![1.0; 4], vec![1.0; 3], vec![1.0; 2]]);
        let error = from_rows::<f32, 4>(&short).unwrap_err();
        assert_eq!(error, Error::RowLength { row: 7, len: 3, expected: 4 });
        assert_eq!(error.to_string(), "row 7 has 3 values, 4 expected");

        let mut long = rows;
        long[0].push(5.0);
        assert_eq!(from_rows::<f32, 4>(&long), Err(Error::RowLength { row: 0, len: 5, expected: 4 }));
        assert_eq!(from_rows::<f32, 4>([vec![]]), Err(Error::RowLength { row: 0, len: 0, expected: 4 }));
    }

    #[test]
    fn parse_row_reads_numbers_between_commas() {
        assert_eq!(parse_row::<f32, 4>("5.1,3.5,1.4,0.2", 0), Ok([5.1, 3.5, 1.4, 0.2]));
        assert_eq!(parse_row::<f64, 3>("  -1 , 2.5e-3,\t7 \r", 0), Ok([-1.0, 2.5e-3, 7.0]));
        assert_eq!(parse_row::<f32, 1>("42", 0), Ok([42.0]));
        // The same bits as `str::parse`.
        let x: f32 = "0.1".parse().unwrap();
        assert_eq!(parse_row::<f32, 1>("0.1", 0).unwrap()[0].to_bits(), x.to_bits());
    }

    #[test]
    fn parse_row_refuses_a_line_of_another_width() {
        assert_eq!(parse_row::<f32, 4>("1,2,3", 7), Err(Error::RowLength { row: 7, len: 3, expected: 4 }));
        assert_eq!(parse_row::<f32, 2>("1,2,3", 1), Err(Error::RowLength { row: 1, len: 3, expected: 2 }));
        // A trailing comma is an empty last field, so one field too many.
        assert_eq!(parse_row::<f32, 2>("1,2,", 3), Err(Error::RowLength { row: 3, len: 3, expected: 2 }));
        // An empty line is one empty field.
        assert_eq!(parse_row::<f32, 2>("", 5), Err(Error::RowLength { row: 5, len: 1, expected: 2 }));
        // The width is checked before any value: a short line of rubbish is
        // reported as short.
        assert_eq!(parse_row::<f32, 3>("a,b", 0), Err(Error::RowLength { row: 0, len: 2, expected: 3 }));
    }

    #[test]
    fn parse_row_names_the_field_that_is_not_a_number() {
        let not_a_number = |row, column| Error::InvalidValue { row, column, reason: "is not a number" };
        assert_eq!(parse_row::<f32, 3>("1,x,3", 4), Err(not_a_number(4, 1)));
        assert_eq!(parse_row::<f32, 3>("1,2,", 4), Err(not_a_number(4, 2)));
        assert_eq!(parse_row::<f32, 3>("1,2 3,4", 0), Err(not_a_number(0, 1)));
        assert_eq!(parse_row::<f64, 2>("1;2,3", 2), Err(not_a_number(2, 0)));
        // The first bad field is the one reported.
        assert_eq!(parse_row::<f64, 3>("1,a,b", 6), Err(not_a_number(6, 1)));
        let error = parse_row::<f32, 2>("1.5,one", 8).unwrap_err();
        assert_eq!(error.to_string(), "row 8, column 1: the value is not a number");
    }

    #[test]
    fn parse_row_refuses_values_that_are_not_finite() {
        let not_finite = |column| Error::InvalidValue { row: 3, column, reason: "is not finite" };
        assert_eq!(parse_row::<f32, 2>("NaN,1", 3), Err(not_finite(0)));
        assert_eq!(parse_row::<f32, 2>("1,nan", 3), Err(not_finite(1)));
        assert_eq!(parse_row::<f64, 2>("1,inf", 3), Err(not_finite(1)));
        assert_eq!(parse_row::<f64, 2>("-infinity,1", 3), Err(not_finite(0)));
        // Finite as text, but too large for the type: it parses to infinity.
        assert_eq!(parse_row::<f32, 2>("1,1e39", 3), Err(not_finite(1)));
        assert_eq!(parse_row::<f64, 2>("1,1e39", 3), Ok([1.0, 1e39]));
        let error = parse_row::<f32, 1>("inf", 11).unwrap_err();
        assert_eq!(error.to_string(), "row 11, column 0: the value is not finite");
    }

    #[test]
    fn parse_labelled_row_reads_the_class_after_the_values() {
        assert_eq!(parse_labelled_row::<f32, 4>("5.1,3.5,1.4,0.2,0", 0), Ok(([5.1, 3.5, 1.4, 0.2], 0)));
        assert_eq!(parse_labelled_row::<f64, 2>(" 1 , 2 , 9 \r", 0), Ok(([1.0, 2.0], 9)));
        assert_eq!(parse_labelled_row::<f64, 1>("1,2.0", 0), Ok(([1.0], 2)));
        assert_eq!(parse_labelled_row::<f64, 1>("1,1e2", 0), Ok(([1.0], 100)));
        assert_eq!(parse_labelled_row::<f64, 1>("1,-0", 0), Ok(([1.0], 0)));
        assert_eq!(parse_labelled_row::<f32, 0>("3", 0), Ok(([], 3)));
    }

    #[test]
    fn parse_labelled_row_refuses_a_line_of_another_width() {
        let error = parse_labelled_row::<f32, 4>("5.1,3.5,1.4,0", 7).unwrap_err();
        assert_eq!(error, Error::RowLength { row: 7, len: 4, expected: 5 });
        assert_eq!(error.to_string(), "row 7 has 4 values, 5 expected");
        let error = parse_labelled_row::<f32, 2>("1,2,3,4", 0).unwrap_err();
        assert_eq!(error, Error::RowLength { row: 0, len: 4, expected: 3 });
    }

    #[test]
    fn parse_labelled_row_names_a_bad_value_or_class() {
        let invalid = |column, reason| Error::InvalidValue { row: 2, column, reason };
        assert_eq!(parse_labelled_row::<f32, 2>("1,?,0", 2), Err(invalid(1, "is not a number")));
        assert_eq!(parse_labelled_row::<f32, 2>("nan,1,0", 2), Err(invalid(0, "is not finite")));
        for class in ["-1", "1.5", "setosa", "", "nan", "inf", "-2.0", "1e300", "0x1"] {
            let line = format!("1,2,{class}");
            let got = parse_labelled_row::<f32, 2>(&line, 2);
            assert_eq!(got, Err(invalid(2, NOT_A_CLASS)), "class {class:?}");
        }
        // A bad value is reported before a bad class.
        assert_eq!(parse_labelled_row::<f32, 2>("x,1,y", 2), Err(invalid(0, "is not a number")));
        let error = parse_labelled_row::<f32, 2>("1,2,-1", 30).unwrap_err();
        assert_eq!(
            error.to_string(),
            "row 30, column 2: the value is not a class index (a whole number from 0)"
        );
    }
}
