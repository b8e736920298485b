"""Digit Studio: draw, explore, train, evaluate and compare handwritten-digit models."""

import streamlit as st

import app_state
import app_timing


def main() -> None:
    app_timing.mark("app")
    # Material icons are drawn by Streamlit's own icon font: emoji show as empty boxes in a browser
    # without an emoji font (Debian's Chromium, for one).
    st.set_page_config(page_title="Digit Studio", page_icon=":material/draw:", layout="wide")
    draw = st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw")

    def start() -> None:
        # The app's root address opens the Draw page at its own address, so /draw works like /train;
        # a shared link's settings (?model=...) come along.
        st.switch_page(draw, query_params=st.query_params.to_dict())

    pages = [
        st.Page(start, title="Digit Studio", url_path="start", default=True, visibility="hidden"),
        draw,
        st.Page("pages/explore.py", title="Explore", icon=":material/search:", url_path="explore"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:", url_path="evaluate"),
        st.Page("pages/compare.py", title="Compare", icon=":material/leaderboard:", url_path="compare"),
        st.Page("pages/model.py", title="Model", icon=":material/neurology:", url_path="model"),
    ]
    app_state.keep_user_name()
    st.navigation(pages).run()


main()
