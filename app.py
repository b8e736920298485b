"""Digit Studio: draw, explore, train, evaluate and compare handwritten-digit models."""

import streamlit as st

import app_state


def main() -> None:
    st.set_page_config(page_title="Digit Studio", page_icon="✍️", layout="wide")
    draw = st.Page("pages/draw.py", title="Draw", icon="✍️", url_path="draw")

    def start() -> None:
        # The app's root address opens the Draw page at its own address, so /draw works like /train.
        st.switch_page(draw)

    pages = [
        st.Page(start, title="Digit Studio", url_path="start", default=True, visibility="hidden"),
        draw,
        st.Page("pages/explore.py", title="Explore", icon="🔎", url_path="explore"),
        st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
        st.Page("pages/evaluate.py", title="Evaluate", icon="📊", url_path="evaluate"),
        st.Page("pages/compare.py", title="Compare", icon="🏆", url_path="compare"),
        st.Page("pages/model.py", title="Model", icon="🧠", url_path="model"),
    ]
    app_state.keep_user_name()
    st.navigation(pages).run()


main()
