"""questionlog"""
