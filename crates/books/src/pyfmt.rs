//! Printing numbers the way the books' Python does, so that a chapter's output can be compared
//! with the book's line by line.
//!
//! * [`float_repr`] is Python's `repr(float)` / `str(float)`: the shortest decimal that reads
//!   back to the same `f64`, in fixed notation for exponents from -4 to 15 and scientific
//!   otherwise (`0.30250000000000005`, `5.403406870691965e+16`, `1e-05`).
//! * [`array_str`] is numpy's `str(array)` for 1-D float arrays with the default print options
//!   (8 significant fraction digits, common padding): `[0.2135 0.145  0.5065]`.
//! * [`list_repr`] is a Python list of floats: `[0.6342311598444467, 1.5055622665134864e-05]`.

/// Python's `repr` of a float.
///
/// ```
/// use tapegrad_books::pyfmt::float_repr;
/// assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
/// assert_eq!(float_repr(1.0), "1.0");
/// assert_eq!(float_repr(5.403406870691965e16), "5.403406870691965e+16");
/// assert_eq!(float_repr(1e-5), "1e-05");
/// ```
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let (negative, digits, exp10) = shortest_digits(x);
    let sign = if negative { "-" } else { "" };
    // Python writes 0.d1d2... x 10^decpt in fixed notation when -4 < decpt <= 16.
    let decpt = exp10 + 1;
    if decpt > -4 && decpt <= 16 {
        let body = if decpt <= 0 {
            format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
        } else if decpt as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(decpt as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(decpt as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let mantissa = if digits.len() == 1 {
            digits.clone()
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let esign = if exp10 < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{esign}{:02}", exp10.abs())
    }
}

/// The shortest round-tripping decimal digits of `|x|` and the power of ten of the first digit.
fn shortest_digits(x: f64) -> (bool, String, i32) {
    // Rust's `{:e}` prints the shortest round-trip digits, like Python's repr.
    let (digits, exp10) = parse_e(&format!("{:e}", x.abs()));
    (x.is_sign_negative(), digits, exp10)
}

/// The digits and the exponent of a non-negative number printed by Rust's `{:e}`.
fn parse_e(s: &str) -> (String, i32) {
    let (mantissa, exp) = s.split_once('e').expect("{:e} has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    (digits, exp.parse().expect("exponent is an integer"))
}

/// numpy's `str` of a 1-D float array with the default print options.
///
/// ```
/// use tapegrad_books::pyfmt::array_str;
/// assert_eq!(array_str(&[0.2135, 0.145, 0.5065]), "[0.2135 0.145  0.5065]");
/// assert_eq!(array_str(&[0.411, 1.086, -0.286]), "[ 0.411  1.086 -0.286]");
/// ```
pub fn array_str(values: &[f64]) -> String {
    let finite_max = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let finite_min = values
        .iter()
        .filter(|v| v.is_finite() && **v != 0.0)
        .fold(f64::INFINITY, |m, v| m.min(v.abs()));
    // numpy switches to scientific notation for very large or very small magnitudes.
    let scientific = finite_max >= 1e8 || (finite_min < 1e-4) || finite_max / finite_min > 1e3;
    let texts: Vec<String> = if scientific {
        scientific_texts(values)
    } else {
        values.iter().map(|&v| format_positional(v)).collect()
    };
    let parts: Vec<(String, String)> = texts
        .into_iter()
        .map(|text| match text.split_once('.') {
            Some((i, f)) => (i.to_string(), format!(".{f}")),
            None => (text, String::new()),
        })
        .collect();
    let int_width = parts.iter().map(|(i, _)| i.len()).max().unwrap_or(0);
    let frac_width = parts.iter().map(|(_, f)| f.len()).max().unwrap_or(0);
    let items: Vec<String> = parts
        .into_iter()
        .map(|(i, f)| format!("{i:>int_width$}{f:<frac_width$}"))
        .collect();
    format!("[{}]", items.join(" "))
}

/// A value rounded to at most 8 fraction digits, trailing zeros trimmed but keeping the point.
fn format_positional(v: f64) -> String {
    if !v.is_finite() {
        return float_repr(v);
    }
    let rounded = format!("{v:.8}");
    let trimmed = rounded.trim_end_matches('0');
    // numpy keeps the point of a whole number in an array: "1."
    trimmed.to_string()
}

/// numpy's scientific array format: the mantissas share one number of fraction digits (at
/// most 8), zero-padded.
fn scientific_texts(values: &[f64]) -> Vec<String> {
    let split: Vec<Option<(bool, String, i32)>> = values
        .iter()
        .map(|&v| {
            v.is_finite().then(|| {
                let (negative, digits, exp10) = shortest_digits(v);
                // More than 9 significant digits: round (not cut) the exact value to 9, as
                // numpy does; rounding may carry into the exponent (9.999999999 -> 1.0e+01).
                let (digits, exp10) = if digits.len() > 9 {
                    parse_e(&format!("{:.8e}", v.abs()))
                } else {
                    (digits, exp10)
                };
                let digits = digits.trim_end_matches('0').to_string();
                let digits = if digits.is_empty() {
                    "0".to_string()
                } else {
                    digits
                };
                (negative, digits, exp10)
            })
        })
        .collect();
    let frac = split
        .iter()
        .flatten()
        .map(|(_, d, _)| d.len() - 1)
        .max()
        .unwrap_or(0);
    values
        .iter()
        .zip(split)
        .map(|(&v, parts)| match parts {
            None => float_repr(v),
            Some((negative, digits, exp10)) => {
                let sign = if negative { "-" } else { "" };
                let esign = if exp10 < 0 { '-' } else { '+' };
                format!(
                    "{sign}{}.{:0<frac$}e{esign}{:02}",
                    &digits[..1],
                    &digits[1..],
                    exp10.abs()
                )
            }
        })
        .collect()
}

/// A Python list of floats, each as [`float_repr`].
///
/// ```
/// use tapegrad_books::pyfmt::list_repr;
/// assert_eq!(list_repr(&[0.5, 1e-5]), "[0.5, 1e-05]");
/// ```
pub fn list_repr(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|&v| float_repr(v)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_repr_on_the_books_numbers() {
        let cases = [
            (0.8500000000000001, "0.8500000000000001"),
            (1.0799505792475652e-27, "1.0799505792475652e-27"),
            (0.7999999999999672, "0.7999999999999672"),
            (5.408208020258491e-06, "5.408208020258491e-06"),
            (6003785411879960.0, "6003785411879960.0"),
            (5.403406870691965e16, "5.403406870691965e+16"),
            (-232452292.5999999, "-232452292.5999999"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123.0, "123.0"),
            (-0.5, "-0.5"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn matches_numpy_array_printing() {
        assert_eq!(
            array_str(&[0.01389228, 1.0138147, -0.01599277]),
            "[ 0.01389228  1.0138147  -0.01599277]"
        );
        assert_eq!(array_str(&[0.5, 0.25]), "[0.5  0.25]");
        assert_eq!(array_str(&[1.0, 2.5]), "[1.  2.5]");
        assert_eq!(array_str(&[1e-5, 1.0]), "[1.e-05 1.e+00]");
        assert_eq!(
            array_str(&[123456.789, 0.5]),
            "[1.23456789e+05 5.00000000e-01]"
        );
        assert_eq!(
            array_str(&[0.1 + 0.2, 1.0 / 3.0]),
            "[0.3        0.33333333]"
        );
        // Scientific mantissas are rounded, not cut, to 9 significant digits.
        assert_eq!(
            array_str(&[
                0.9999999979388464,
                2.0611536181902037e-09,
                6.914400106935423e-13
            ]),
            "[9.99999998e-01 2.06115362e-09 6.91440011e-13]"
        );
        assert_eq!(array_str(&[9.9999999996, 1e-9]), "[1.e+01 1.e-09]");
    }
}
