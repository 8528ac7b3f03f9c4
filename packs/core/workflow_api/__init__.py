"""The app side of workflows: the workflow service, its HTTP controller and the controller's payloads."""
