//! Nelder-Mead simplex minimisation inside a box, for the smoothing
//! parameters of the exponential-smoothing family.
//!
//! Why Nelder-Mead: the objectives (sum of squared one-step errors, or the
//! concentrated likelihood) are cheap, low-dimensional (at most four
//! parameters) and have no convenient gradient; the simplex needs only
//! function values. Points are projected onto the box, so every evaluated
//! parameter vector is admissible.

/// Where to stop.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub max_evaluations: usize,
    /// Converged when best and worst vertex values differ by less than this,
    /// relative to the best value.
    pub tolerance: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_evaluations: 400, tolerance: 1e-7 }
    }
}

/// The best point found and its value.
#[derive(Debug, Clone)]
pub struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
}

/// Minimises `objective` from `start` within `[lower, upper]` (per coordinate).
/// Non-finite objective values count as +infinity, so the simplex walks away from them.
pub fn minimize(
    mut objective: impl FnMut(&[f64]) -> f64,
    start: &[f64],
    lower: &[f64],
    upper: &[f64],
    options: Options,
) -> Minimum {
    let dimension = start.len();
    let project = |point: &mut [f64]| {
        for ((value, low), high) in point.iter_mut().zip(lower).zip(upper) {
            *value = value.clamp(*low, *high);
        }
    };
    let mut evaluate = |point: &[f64]| {
        let value = objective(point);
        if value.is_finite() { value } else { f64::INFINITY }
    };

    // Initial simplex: a step of a tenth of the box along each axis, turned
    // inwards when it would leave the box.
    let mut vertices: Vec<Vec<f64>> = Vec::with_capacity(dimension + 1);
    let mut first = start.to_vec();
    project(&mut first);
    vertices.push(first.clone());
    for axis in 0..dimension {
        let mut vertex = first.clone();
        let step = 0.1 * (upper[axis] - lower[axis]);
        vertex[axis] = if vertex[axis] + step <= upper[axis] { vertex[axis] + step } else { vertex[axis] - step };
        vertices.push(vertex);
    }
    let mut values: Vec<f64> = vertices.iter().map(|vertex| evaluate(vertex)).collect();
    let mut evaluations = values.len();

    let mut centroid = vec![0.0; dimension];
    let mut trial = vec![0.0; dimension];
    let mut second_trial = vec![0.0; dimension];
    while evaluations < options.max_evaluations {
        // Order: best first, worst last.
        let mut order: Vec<usize> = (0..=dimension).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        vertices = order.iter().map(|&i| vertices[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let (best, worst) = (values[0], values[dimension]);
        if worst.is_finite() && (worst - best).abs() <= options.tolerance * (best.abs() + options.tolerance) {
            break;
        }

        centroid.iter_mut().for_each(|c| *c = 0.0);
        for vertex in &vertices[..dimension] {
            for (c, v) in centroid.iter_mut().zip(vertex) {
                *c += v / dimension as f64;
            }
        }
        let towards = |out: &mut Vec<f64>, coefficient: f64, worst_vertex: &[f64]| {
            for ((o, c), w) in out.iter_mut().zip(&centroid).zip(worst_vertex) {
                *o = c + coefficient * (c - w);
            }
        };

        towards(&mut trial, 1.0, &vertices[dimension]);
        project(&mut trial);
        let reflected = evaluate(&trial);
        evaluations += 1;
        if reflected < values[0] {
            towards(&mut second_trial, 2.0, &vertices[dimension]);
            project(&mut second_trial);
            let expanded = evaluate(&second_trial);
            evaluations += 1;
            if expanded < reflected {
                vertices[dimension].clone_from(&second_trial);
                values[dimension] = expanded;
            } else {
                vertices[dimension].clone_from(&trial);
                values[dimension] = reflected;
            }
            continue;
        }
        if reflected < values[dimension - 1] {
            vertices[dimension].clone_from(&trial);
            values[dimension] = reflected;
            continue;
        }
        // Contract: outside when the reflection improved on the worst, inside otherwise.
        let coefficient = if reflected < values[dimension] { 0.5 } else { -0.5 };
        towards(&mut second_trial, coefficient, &vertices[dimension]);
        project(&mut second_trial);
        let contracted = evaluate(&second_trial);
        evaluations += 1;
        if contracted < values[dimension].min(reflected) {
            vertices[dimension].clone_from(&second_trial);
            values[dimension] = contracted;
            continue;
        }
        // Shrink towards the best vertex.
        let best_vertex = vertices[0].clone();
        for index in 1..=dimension {
            for (v, b) in vertices[index].iter_mut().zip(&best_vertex) {
                *v = b + 0.5 * (*v - b);
            }
            values[index] = evaluate(&vertices[index]);
            evaluations += 1;
        }
    }

    let best = (0..=dimension).min_by(|&a, &b| values[a].total_cmp(&values[b])).unwrap_or(0);
    Minimum { point: vertices[best].clone(), value: values[best] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_shifted_quadratic() {
        let minimum = minimize(
            |p| (p[0] - 0.3).powi(2) + 2.0 * (p[1] - 0.7).powi(2),
            &[0.5, 0.5],
            &[0.0, 0.0],
            &[1.0, 1.0],
            Options { max_evaluations: 1000, tolerance: 1e-14 },
        );
        assert!((minimum.point[0] - 0.3).abs() < 1e-4, "{:?}", minimum.point);
        assert!((minimum.point[1] - 0.7).abs() < 1e-4, "{:?}", minimum.point);
    }

    #[test]
    fn stays_inside_the_box_when_the_minimum_is_outside() {
        let minimum = minimize(|p| (p[0] - 2.0).powi(2), &[0.5], &[0.0], &[1.0], Options::default());
        assert!((minimum.point[0] - 1.0).abs() < 1e-6);
    }
}
