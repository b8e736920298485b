"""Views: Plotly figures, HTML reports and download files built from results."""
