"""The Streamlit side of the app: cached handles, sign-in, the evaluation form, static CSS."""
