"""The three systems' rules (identity documents, daily logs, rates) and X-ray image analysis.

Pure Python, NumPy and OpenCV: no Flask, no database session.
"""
