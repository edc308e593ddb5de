use plotters::prelude::*;
fn main() {
    let root = SVGBackend::new("/tmp/probe/a.svg", (640, 480)).into_drawing_area();
    root.fill(&WHITE).unwrap();
    let mut chart = ChartBuilder::on(&root)
        .caption("test", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((1e-2f64..1e2).log_scale(), 0f64..1.0)
        .unwrap();
    chart.configure_mesh().x_desc("tau (s)").y_desc("y").draw().unwrap();
    chart.draw_series(LineSeries::new((0..50).map(|i| { let x = 10f64.powf(-2.0 + 4.0 * i as f64 / 49.0); (x, 0.5 + 0.4 * (x.ln()).sin()) }), &RED)).unwrap().label("sin").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart.configure_series_labels().border_style(BLACK).draw().unwrap();
    root.present().unwrap();
}
