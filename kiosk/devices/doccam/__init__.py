"""Document camera (高拍仪): a camera over the desk; stills of paper pages for materials."""
