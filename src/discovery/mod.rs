//! Service discovery: static, file and HTTP sources of target groups.
