"""The progress report (`planwatch report`): the plan's state at a day as one HTML document.

`build_report` (model) computes, `render_report` (render) writes HTML, both pure; the command
(`planwatch.report_cli`) reads the events and writes the files; `pdf` prints one to PDF.
"""

from planwatch.report.chart import ChartData, DatedValue, Frame, chart_data, render_chart
from planwatch.report.model import ReportData, ReportPeriodError, build_report
from planwatch.report.render import render_report

__all__ = [
    "ChartData",
    "DatedValue",
    "Frame",
    "ReportData",
    "ReportPeriodError",
    "build_report",
    "chart_data",
    "render_chart",
    "render_report",
]
