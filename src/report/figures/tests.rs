//! The choice of the figures' x axis among a sweep's axes.

use super::*;

fn cells(rows: &[(f64, f64)]) -> Vec<serde_json::Map<String, Value>> {
    rows.iter()
        .map(|&(order, sigma)| {
            let mut m = serde_json::Map::new();
            m.insert("inversion.order".into(), serde_json::json!(order));
            m.insert("noise.sigma".into(), serde_json::json!(sigma));
            m
        })
        .collect()
}

#[test]
fn the_x_axis_is_the_one_with_most_values_and_whole_numbers_give_way_on_a_tie() {
    // Two orders (listed first) x three noise levels: the noise is the x axis, the order the
    // panels' condition.
    let axes = cells(&[
        (2.0, 3e-5),
        (2.0, 1e-4),
        (2.0, 3e-4),
        (3.0, 3e-5),
        (3.0, 1e-4),
        (3.0, 3e-4),
    ]);
    let (_, numeric, conditions) = cell_axes(axes.iter().enumerate());
    assert_eq!(numeric.unwrap().0, "noise.sigma");
    assert_eq!(conditions[&0], "inversion.order = 2.0");
    // Two values each: the fractional one.
    let axes = cells(&[(2.0, 1e-4), (2.0, 3e-4), (3.0, 1e-4), (3.0, 3e-4)]);
    let (_, numeric, _) = cell_axes(axes.iter().enumerate());
    assert_eq!(numeric.unwrap().0, "noise.sigma");
    // Three orders against two noise levels: the orders.
    let axes = cells(&[
        (1.0, 1e-4),
        (2.0, 1e-4),
        (3.0, 1e-4),
        (1.0, 3e-4),
        (2.0, 3e-4),
        (3.0, 3e-4),
    ]);
    let (_, numeric, _) = cell_axes(axes.iter().enumerate());
    assert_eq!(numeric.unwrap().0, "inversion.order");
}
