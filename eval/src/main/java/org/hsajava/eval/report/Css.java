package org.hsajava.eval.report;

/** The report page's inline style sheet and the SVG definitions every chart shares (the not-run hatch). */
final class Css {
    private Css() {}

    static final String STYLE = """
            :root { --text: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f6f7f9; --card: #ffffff; --accent: #0072B2; }
            * { box-sizing: border-box; }
            body { margin: 0; background: var(--bg); color: var(--text);
                   font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
            main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 48px; }
            header { margin-bottom: 20px; }
            .kicker { margin: 0; color: var(--accent); font-weight: 600; letter-spacing: .06em; text-transform: uppercase; font-size: 12px; }
            h1 { margin: 4px 0 2px; font-size: 26px; font-weight: 650; letter-spacing: -.01em; }
            h2 { margin: 0 0 6px; font-size: 19px; font-weight: 620; }
            .sub, .desc { color: var(--muted); margin: 0 0 14px; }
            .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 22px; margin: 0 0 20px;
                    box-shadow: 0 1px 2px rgba(16, 24, 40, .04); }
            .tag { font: 500 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); background: #f3f4f6;
                   border-radius: 4px; padding: 2px 6px; vertical-align: middle; }
            table { border-collapse: collapse; font-size: 14px; }
            th { text-align: left; font-weight: 600; color: var(--muted); border-bottom: 1px solid var(--line); padding: 6px 12px 6px 0; }
            td { border-bottom: 1px solid #f1f2f4; padding: 6px 12px 6px 0; vertical-align: top; }
            td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
            table.runs { width: 100%; margin-bottom: 10px; }
            table.runs td:first-child, td.date { white-space: nowrap; }
            .swatch { display: inline-block; width: 11px; height: 11px; border-radius: 3px; margin-right: 7px; vertical-align: -1px; }
            details { margin: 6px 0; }
            summary { cursor: pointer; color: var(--accent); }
            dl.config { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 4px 18px; font-size: 13.5px; }
            dl.config dt { color: var(--muted); }
            dl.config dd { margin: 0; }
            code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f3f4f6; border-radius: 4px; padding: 1px 5px;
                   word-break: break-all; }
            .grid { display: flex; flex-wrap: wrap; gap: 18px 28px; align-items: flex-start; }
            figure { margin: 0; }
            figure.wide { margin-top: 10px; }
            figcaption { font-weight: 600; font-size: 14px; margin-bottom: 4px; }
            svg { max-width: 100%; height: auto; display: block; }
            svg text { font-family: inherit; fill: var(--text); }
            svg .tick { font-size: 11.5px; fill: #4b5563; }
            svg .tick.strong { font-weight: 700; fill: var(--text); }
            svg .axis-label { font-size: 12.5px; fill: var(--muted); }
            svg .cell-value { font-size: 12.5px; font-weight: 600; font-variant-numeric: tabular-nums; }
            svg .cell-na { font-size: 11px; fill: #6b7280; }
            svg .marker-label { font-size: 11.5px; font-weight: 600; }
            svg .legend-label { font-size: 12.5px; }
            svg g.cell:hover rect { stroke: #111827; stroke-width: 1.5; }
            svg circle:hover { r: 6.5; }
            table.numbers { align-self: center; }
            .na { color: var(--muted); border-bottom: 1px dotted var(--muted); cursor: help; }
            ul.notes { margin: 0; padding-left: 20px; font-size: 14px; }
            footer { color: var(--muted); font-size: 13px; margin-top: 24px; }
            """;

    static final String DEFS = "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>"
            + "<pattern id=\"hsa-hatch\" patternUnits=\"userSpaceOnUse\" width=\"6\" height=\"6\" patternTransform=\"rotate(45)\">"
            + "<rect width=\"6\" height=\"6\" fill=\"#f3f4f6\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#d1d5db\" stroke-width=\"2.5\"/>"
            + "</pattern></defs></svg>\n";
}
