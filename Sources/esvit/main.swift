print("esvit")
